/**
 * What lib's gpu.js selective scans share before their first kernel call: the checked sizes of a
 * call, the texture-size guard and the upload of the inputs in the layouts the kernels read.
 * Internal to `gpu/` (not re-exported from lib's index).
 */
import { type SelectiveScanArgs, checkInputDependentScanArgs } from "../selective/scan";
import { type GpuBackend, loadGpuJs, maxTextureSize } from "./backends";
import { type ScanDims, type ScanTraffic, MAX_GPU_DSTATE } from "./scan-kernels";

/**
 * The sizes of a scan call, its arguments checked for `fn` as selectiveScan checks them (with
 * `bdlValues: false`, the values of u, delta and z are left to a check on the device), and n at
 * most {@link MAX_GPU_DSTATE}, the states the kernels' loops are compiled for.
 */
export function checkedScanDims(
  fn: string,
  args: SelectiveScanArgs,
  options: { bdlValues?: boolean } = {},
): ScanDims {
  const shapes = checkInputDependentScanArgs(fn, args, options);
  if (shapes.dstate > MAX_GPU_DSTATE) {
    throw new Error(
      `${fn}: argument 'A' must have at most ${MAX_GPU_DSTATE} states n (got n = ${shapes.dstate})`,
    );
  }
  return {
    batch: shapes.batch,
    dim: shapes.dim,
    length: shapes.length,
    dstate: shapes.dstate,
    groups: shapes.B.groups,
    softplus: args.deltaSoftplus === true,
    hasZ: args.z !== undefined && args.z !== null,
  };
}

/** float32 copy of a tensor's data (gpu.js uploads float32). */
export function f32(data: Float32Array | Float64Array): Float32Array {
  return data instanceof Float32Array ? data : Float32Array.from(data);
}

/**
 * Refuses a problem that needs more texels in one texture than a GL backend has: packed
 * intermediates hold 4 values per texel, the read-back output (b·d, l) and the inputs one.
 * Backends without textures (maxTextureSize null) have no such limit.
 */
export function checkTextureBudget(
  fn: string,
  dims: ScanDims,
  traffic: ScanTraffic,
  backend: GpuBackend,
): void {
  const maxTex = maxTextureSize(backend);
  if (maxTex === null) return;
  const { batch, dim, length: L, dstate: N, groups } = dims;
  const texels = Math.max(
    traffic.largestIntermediateBytes / 16,
    batch * dim * L,
    batch * groups * N * L,
  );
  if (texels > maxTex * maxTex) {
    throw new Error(
      `${fn}: (b, d, l, n) = (${batch}, ${dim}, ${L}, ${N}) needs ${texels} texels in one texture, more than this backend's ${maxTex}² (use the chunked variant, or split the batch)`,
    );
  }
}

/**
 * The scan's inputs as gpu.js inputs, innermost axis first: u, Δ, z (l, d, b); A (n, d);
 * B, C (l, n, b·groups); D and deltaBias as plain float32 (d), zeros when absent.
 */
export function uploadScanInputs(args: SelectiveScanArgs, dims: ScanDims) {
  const { batch, dim, length: L, dstate: N, groups } = dims;
  const g = loadGpuJs();
  return {
    u: g.input(f32(args.u.data), [L, dim, batch]),
    delta: g.input(f32(args.delta.data), [L, dim, batch]),
    z: dims.hasZ ? g.input(f32(args.z!.data), [L, dim, batch]) : null,
    A: g.input(f32(args.A.data), [N, dim]),
    B: g.input(f32(args.B.data), [L, N, batch * groups]),
    C: g.input(f32(args.C.data), [L, N, batch * groups]),
    Dv: args.D ? f32(args.D.data) : new Float32Array(dim),
    bias: args.deltaBias ? f32(args.deltaBias.data) : new Float32Array(dim),
  };
}
