/**
 * The uploads of the selective scans whose data stays on the device (the fused gpu.js scan of
 * fused-scan.ts and the hand-written WGSL scan of wgsl-scan.ts): the arguments checked as
 * selectiveScan checks them and put on the device in the layouts both scans' kernels read, and
 * the gradient of the output for their backward passes. One upload serves both scans, so they are
 * timed on the same buffers; its errors name the scanner the user called (`owner`). Internal to
 * `gpu/` (not re-exported from lib's index).
 */
import type { Tensor } from "../tensor";
import { describe } from "../validate";
import type { SelectiveScanArgs } from "../selective/scan";
import type { ScanDims } from "./scan-kernels";
import { checkedScanDims } from "./scan-inputs";
import { type DeviceKernels, float32Data, refuseNonFiniteOnDevice } from "./device-kernels";
import { releaseDeviceValue } from "./backends";

/** Scan arguments on the device (see {@link uploadDeviceScanArgs}). */
export interface DeviceScanArgs {
  readonly dims: ScanDims;
  readonly returnLastState: boolean;
  /**
   * The inputs as gpu.js kernel arguments (buffers on webgpu), innermost axis first: u, delta, z
   * (l, d, b); A (n, d); B, C (l, n, b·groups); Dv, bias (d), zeros when absent; AD, A and D side
   * by side (n + 1, d).
   */
  readonly values: Record<string, unknown>;
  /** The output's shape (b, d, l), which the backward's dout must have. */
  readonly shape: [number, number, number];
}

/**
 * Checks the scan's arguments (as selectiveScan does) for `${owner}.upload` and puts them on
 * `dev`'s device; on webgpu the values of u, delta and z are checked on the device, after the
 * upload, since the GPU reads a gigabyte in about a millisecond where the host needs a third of
 * a second.
 */
export async function uploadDeviceScanArgs(
  owner: string,
  dev: DeviceKernels<string>,
  args: SelectiveScanArgs,
): Promise<DeviceScanArgs> {
  const name = `${owner}.upload`;
  const { webgpu, put } = dev;
  const dims = checkedScanDims(name, args, { bdlValues: !webgpu });
  if (webgpu) await dev.ready();
  const { batch, dim, length: L, dstate: N, groups } = dims;
  const values: Record<string, unknown> = {
    u: await put(float32Data(args.u), [L, dim, batch]),
    delta: await put(float32Data(args.delta), [L, dim, batch]),
    A: await put(float32Data(args.A), [N, dim]),
    B: await put(float32Data(args.B), [L, N, batch * groups]),
    C: await put(float32Data(args.C), [L, N, batch * groups]),
    Dv: await put(args.D ? float32Data(args.D) : new Float32Array(dim), [dim]),
    bias: await put(args.deltaBias ? float32Data(args.deltaBias) : new Float32Array(dim), [dim]),
  };
  // A and D side by side, (d, n + 1): the backward kernels bind them as one buffer
  const AD = new Float32Array(dim * (N + 1));
  const a = float32Data(args.A);
  for (let d = 0; d < dim; d++) {
    AD.set(a.subarray(d * N, (d + 1) * N), d * (N + 1));
    AD[d * (N + 1) + N] = args.D ? args.D.data[d] : 0;
  }
  values.AD = await put(AD, [N + 1, dim]);
  if (dims.hasZ) values.z = await put(float32Data(args.z!), [L, dim, batch]);
  if (webgpu) {
    const checked = (["u", "delta", "z"] as const)
      .filter((k) => values[k] !== undefined)
      .map((k) => ({ arg: k, host: args[k]!, device: values[k] }));
    await refuseNonFiniteOnDevice(name, checked, () =>
      Object.values(values).forEach(releaseDeviceValue),
    );
  }
  return { dims, returnLastState: args.returnLastState === true, values, shape: [batch, dim, L] };
}

/** Frees `value`'s buffers when it is an upload ({@link DeviceScanArgs}); says whether it was. */
export function releaseDeviceScanArgs(value: unknown): boolean {
  if (value === null || typeof value !== "object" || !("values" in value && "dims" in value)) {
    return false;
  }
  for (const x of Object.values((value as DeviceScanArgs).values)) releaseDeviceValue(x);
  return true;
}

/** Puts dout = ∂loss/∂out, (b, d, l), on `dev`'s device for `${owner}.backward`. */
export async function uploadDeviceScanGradient(
  owner: string,
  dev: DeviceKernels<string>,
  inputs: DeviceScanArgs,
  dout: Tensor,
): Promise<unknown> {
  const [b, d, l] = inputs.shape;
  if (
    !dout ||
    !Array.isArray(dout.shape) ||
    dout.shape.join() !== [b, d, l].join() ||
    !(dout.data instanceof Float32Array || dout.data instanceof Float64Array)
  ) {
    throw new Error(
      `${owner}.uploadGradient: argument 'dout' must be a float tensor of shape (${b}, ${d}, ${l}), the shape of out (got ${describe(dout)})`,
    );
  }
  return dev.put(float32Data(dout), [l, d, b]);
}
