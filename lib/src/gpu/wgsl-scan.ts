/**
 * The fused selective scan written by hand in WGSL, WebGPU's own shading language: what the fused
 * design reaches when the kernel language lets a kernel share memory inside a workgroup, hold
 * arrays in registers and loop over the sequence itself, which gpu.js's kernels cannot (README's
 * fused-scan section). It runs on the same device, from the same uploaded buffers as the fused
 * gpu.js scan (fused-scan.ts), so the two are timed on the same card in the same run. Forward
 * only: the scan's output y, (b, d, l).
 *
 * One workgroup scans `channels` channels of one batch (and one group of B and C) over the whole
 * sequence, a chunk of `chunk` positions at a time:
 *  1. the chunk's Δ = softplus(delta + bias), Δ·u (channels × chunk) and B, C (n × chunk) go from
 *     registers into workgroup memory: every value of the inputs is read from memory once;
 *  2. the next chunk's loads are issued into registers, in flight while this chunk is scanned;
 *  3. each channel's n states are split over `lanes` invocations, each holding its n / lanes
 *     states in registers: h ← exp(Δ A) h + Δ u B, and its share of C·h for every position;
 *  4. the lanes' shares are added, D u added and the gate silu(z) applied, and y is written: every
 *     output is written once, in rows of `chunk` consecutive positions.
 * Workgroup-memory rows are padded by one value, so lanes reading different rows in the same step
 * hit different banks.
 */
import type { Tensor } from "../tensor";
import { checkArg, checkOptions, schema } from "../validate";
import type { SelectiveScanArgs } from "../selective/scan";
import { type ScanDims, checkScanDims } from "./scan-kernels";
import { type DeviceScanArgs, createFusedGpuScan } from "./fused-scan";
import { releaseDeviceValue } from "./device-kernels";
import {
  type WgslPipeline,
  allocateWebGpuBuffer,
  compileWgsl,
  readWebGpuBuffer,
  webGpuLimits,
} from "./webgpu";

/** How the WGSL scan splits its work (see the module comment). */
export interface WgslScanTiling {
  /** Channels per workgroup. */
  channels: number;
  /** Invocations per channel, each holding dstate / lanes states. */
  lanes: number;
  /** Positions per chunk. */
  chunk: number;
}

/** Options of {@link createWgslScan}: the tiling asked for (default 32 channels, 4 lanes, chunks of 32). */
export type WgslScanOptions = Partial<WgslScanTiling>;

/** The tiling used for one size, and what it costs. */
export interface WgslScanPlan extends WgslScanTiling {
  /** Workgroups dispatched, as [x, y] (x at most 65,535). */
  workgroups: [number, number];
  /** Workgroup memory per workgroup, in bytes. */
  workgroupBytes: number;
}

/** A hand-written WGSL scan whose data stays on the device between calls. */
export interface WgslScanner {
  /** The tiling asked for. */
  readonly tiling: WgslScanTiling;
  /** Checks and uploads the arguments, as the fused gpu.js scan's upload does (the same buffers). */
  upload(args: SelectiveScanArgs): Promise<DeviceScanArgs>;
  /**
   * The scan's output y, (b, d, l), on the device (a gpu.js `WebGPUBufferResult`), after one
   * dispatch; nothing is read back. The next forward of the same size overwrites it.
   */
  forward(inputs: DeviceScanArgs): Promise<unknown>;
  /** Reads y back to the host. */
  read(out: unknown): Promise<{ out: Tensor<Float32Array> }>;
  /** Frees an upload or an output. */
  free(...values: unknown[]): void;
  /** The tiling of the last size on this device (channels and lanes fitted to the size). */
  plan(): WgslScanPlan | null;
  /** The WGSL of the last size. */
  source(): string | null;
  /** Frees the output buffer. */
  destroy(): void;
}

const OPTIONS = schema.options({
  channels: schema.optional(schema.integer({ min: 1, max: 256 })),
  lanes: schema.optional(schema.integer({ min: 1, max: 8 })),
  chunk: schema.optional(schema.integer({ min: 1, max: 64 })),
});

/** Workgroups along x at most (WebGPU's default maxComputeWorkgroupsPerDimension). */
const MAX_GROUPS_X = 65535;
/** Invocations per workgroup at most (WebGPU's default maxComputeInvocationsPerWorkgroup). */
const MAX_INVOCATIONS = 256;

/** The tiling asked for in `options`, with its defaults, checked for `fn`. */
function checkTiling(fn: string, options: WgslScanOptions | undefined): WgslScanTiling {
  const o = checkOptions(fn, "options", options ?? {}, OPTIONS) as WgslScanOptions;
  const tiling: WgslScanTiling = {
    channels: o.channels ?? 32,
    lanes: o.lanes ?? 4,
    chunk: o.chunk ?? 32,
  };
  if (![1, 2, 4, 8].includes(tiling.lanes)) {
    throw new Error(`${fn}: option 'lanes' must be 1, 2, 4 or 8 (got ${tiling.lanes})`);
  }
  if (tiling.chunk % tiling.lanes !== 0) {
    throw new Error(
      `${fn}: option 'lanes' must divide option 'chunk' (got lanes ${tiling.lanes}, chunk ${tiling.chunk})`,
    );
  }
  return tiling;
}

/**
 * The tiling the WGSL scan uses for `dims` when `options` (see {@link createWgslScan}) are asked
 * for on a device with `workgroupBytes` of workgroup memory (default 16 KiB, WebGPU's minimum).
 */
export function planWgslScan(
  dims: ScanDims,
  options?: WgslScanOptions,
  workgroupBytes = 16384,
): WgslScanPlan {
  return checkedPlan("planWgslScan", dims, options, workgroupBytes).plan;
}

/** The WGSL of the scan for `dims`, tiled as {@link planWgslScan} plans it (same arguments). */
export function wgslScanSource(
  dims: ScanDims,
  options?: WgslScanOptions,
  workgroupBytes = 16384,
): string {
  const { dims: d, plan: p } = checkedPlan("wgslScanSource", dims, options, workgroupBytes);
  return source(d, p);
}

/** The arguments of {@link planWgslScan} and {@link wgslScanSource}, checked for `fn`, and the plan. */
function checkedPlan(
  fn: string,
  dims: unknown,
  options: WgslScanOptions | undefined,
  workgroupBytes: unknown,
): { dims: ScanDims; plan: WgslScanPlan } {
  const d = checkScanDims(fn, dims);
  const tiling = checkTiling(fn, options);
  const bytes = checkArg(fn, "workgroupBytes", workgroupBytes, schema.integer({ min: 1 }));
  return { dims: d, plan: plan(fn, d, tiling, bytes) };
}

/**
 * The tiling for `dims` nearest to `asked` that the size allows: channels the largest divisor of
 * the channels per group (dim / groups) up to the channels asked for, so a workgroup's channels
 * share one B and C; lanes the largest power of two up to those asked for that divides dstate;
 * channels reduced further while the workgroup memory exceeds `workgroupBytesLimit` or the
 * workgroup has over 256 invocations.
 */
function plan(
  fn: string,
  dims: ScanDims,
  asked: WgslScanTiling,
  workgroupBytesLimit: number,
): WgslScanPlan {
  const perGroup = dims.dim / dims.groups;
  let lanes = asked.lanes;
  while (dims.dstate % lanes !== 0) lanes /= 2;
  const bytes = (ch: number) => 4 * (asked.chunk + 1) * (2 * ch + 2 * dims.dstate + lanes * ch);
  let channels = Math.min(asked.channels, perGroup);
  const tooBig = (ch: number) => bytes(ch) > workgroupBytesLimit || ch * lanes > MAX_INVOCATIONS;
  while (perGroup % channels !== 0 || (channels > 1 && tooBig(channels))) {
    channels--;
  }
  if (bytes(channels) > workgroupBytesLimit) {
    throw new Error(
      `${fn}: a chunk of ${asked.chunk} positions with dstate ${dims.dstate} needs ${bytes(channels)} bytes of workgroup memory, over the device's ${workgroupBytesLimit}: ask for a shorter chunk`,
    );
  }
  const blocks = (dims.batch * dims.dim) / channels;
  const x = Math.min(blocks, MAX_GROUPS_X);
  return {
    channels,
    lanes,
    chunk: asked.chunk,
    workgroups: [x, Math.ceil(blocks / x)],
    workgroupBytes: bytes(channels),
  };
}

/** `count` lines made by `line(k)`, k = 0 .. count − 1 (the source's unrolled loops). */
const lines = (count: number, line: (k: number) => string, indent: string): string =>
  Array.from({ length: count }, (_, k) => indent + line(k)).join("\n");

/** The WGSL of the scan for `dims` and `p` (see the module comment). */
function source(dims: ScanDims, p: WgslScanPlan): string {
  const { batch, dim, length: L, dstate: N, groups, softplus, hasZ } = dims;
  const { channels: CH, lanes: S, chunk: T } = p;
  const K = N / S; // states per invocation
  const WG = CH * S; // invocations per workgroup
  const TP = T + 1; // padded row
  const PER = T / S; // values of each (channels, chunk) tile an invocation moves
  const PER_BC = Math.ceil((N * T) / WG); // values of each (n, chunk) tile an invocation moves
  const chunks = Math.ceil(L / T);
  const bcGuard = (N * T) % WG !== 0;
  // the value j = li + k·WG of a (rows, T) tile: row j / T, position j % T
  const tileIndex = (k: number) => `let j = li + ${k * WG}u; let r = j / ${T}u; let t = j % ${T}u;`;
  const load = (chunkStart: string, indent: string) =>
    [
      lines(
        PER,
        (k) =>
          `{ ${tileIndex(k)} let pos = ${chunkStart} + t; let at = rows + r * ${L}u + min(pos, ${L - 1}u); let inside = pos < ${L}u;` +
          ` pu${k} = select(0.0, u[at], inside); pd${k} = select(0.0, delta[at], inside);` +
          (hasZ ? ` pz${k} = select(0.0, z[at], inside);` : "") +
          " }",
        indent,
      ),
      lines(
        PER_BC,
        (k) =>
          `{ ${tileIndex(k)} let pos = ${chunkStart} + t; let at = bcRows + r * ${L}u + min(pos, ${L - 1}u); let inside = pos < ${L}u${bcGuard ? ` && j < ${N * T}u` : ""};` +
          ` pb${k} = select(0.0, B[at], inside); pc${k} = select(0.0, C[at], inside); }`,
        indent,
      ),
    ].join("\n");
  const bindings = ["u", "delta", "A", "B", "C", "D", "bias"].map(
    (name, i) => `@group(0) @binding(${i}) var<storage, read> ${name}: array<f32>;`,
  );
  bindings.push("@group(0) @binding(7) var<storage, read_write> y: array<f32>;");
  if (hasZ) bindings.push("@group(0) @binding(8) var<storage, read> z: array<f32>;");
  const lanesSum = Array.from({ length: S }, (_, s) => `sY[${s * CH}u * ${TP}u + r * ${TP}u + t]`);
  return `// The selective scan, fused: (b, d, l, n) = (${batch}, ${dim}, ${L}, ${N}), ${groups} group(s) of B and C.
// ${CH} channels a workgroup, ${S} invocation(s) a channel holding ${K} states each, chunks of ${T} positions.
${bindings.join("\n")}

var<workgroup> sDt: array<f32, ${CH * TP}>; // Δ, (channels, chunk)
var<workgroup> sDu: array<f32, ${CH * TP}>; // Δ·u
var<workgroup> sB: array<f32, ${N * TP}>; // B, (n, chunk)
var<workgroup> sC: array<f32, ${N * TP}>;
var<workgroup> sY: array<f32, ${S * CH * TP}>; // each lane's share of C·h, (lanes, channels, chunk)

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let block = wg.x + wg.y * ${p.workgroups[0]}u;
  if (block >= ${(batch * dim) / CH}u) { return; }
  let b = block / ${dim / CH}u;
  let d0 = (block % ${dim / CH}u) * ${CH}u; // the workgroup's first channel
  let rows = (b * ${dim}u + d0) * ${L}u; // its first value in u, delta, z and y
  let bcRows = (b * ${groups}u + d0 / ${dim / groups}u) * ${N * L}u; // its B and C, (n, l)
  // this invocation's channel and slice of states in the scan, A premultiplied by log2(e)
  let ch = li / ${S}u;
  let lane = li % ${S}u;
  let i0 = lane * ${K}u;
${lines(K, (k) => `let a${k} = A[(d0 + ch) * ${N}u + i0 + ${k}u] * 1.4426950408889634;`, "  ")}
${lines(K, (k) => `var h${k} = 0.0;`, "  ")}
  // the next chunk's values, in registers; this chunk's u${hasZ ? " and z" : ""} for the output
${lines(PER, (k) => `var pu${k} = 0.0; var pd${k} = 0.0; var cu${k} = 0.0;${hasZ ? ` var pz${k} = 0.0; var cz${k} = 0.0;` : ""}`, "  ")}
${lines(PER_BC, (k) => `var pb${k} = 0.0; var pc${k} = 0.0;`, "  ")}
  {
${load("0u", "    ")}
  }
  for (var c = 0u; c < ${chunks}u; c++) {
    let t0 = c * ${T}u;
    // 1. this chunk into workgroup memory: Δ = ${softplus ? "softplus(delta + bias)" : "delta + bias"}, Δ·u, B, C
${lines(
  PER,
  (k) =>
    `{ ${tileIndex(k)} var dt = pd${k} + bias[d0 + r];${softplus ? " if (dt <= 20.0) { dt = log(1.0 + exp(dt)); }" : ""}` +
    ` sDt[r * ${TP}u + t] = dt; sDu[r * ${TP}u + t] = dt * pu${k}; cu${k} = pu${k};${hasZ ? ` cz${k} = pz${k};` : ""} }`,
  "    ",
)}
${lines(
  PER_BC,
  (k) =>
    `{ ${tileIndex(k)}${bcGuard ? ` if (j < ${N * T}u) {` : ""} sB[r * ${TP}u + t] = pb${k}; sC[r * ${TP}u + t] = pc${k};${bcGuard ? " }" : ""} }`,
  "    ",
)}
    workgroupBarrier();
    // 2. the next chunk's loads, in flight while this one is scanned
    if (c + 1u < ${chunks}u) {
      let next = t0 + ${T}u;
${load("next", "      ")}
    }
    // 3. the scan over the chunk: this invocation's ${K} states in registers
    for (var t = 0u; t < ${T}u; t++) {
      let dt = sDt[ch * ${TP}u + t];
      let du = sDu[ch * ${TP}u + t];
${lines(K, (k) => `h${k} = exp2(dt * a${k}) * h${k} + du * sB[(i0 + ${k}u) * ${TP}u + t];`, "      ")}
      sY[(lane * ${CH}u + ch) * ${TP}u + t] = ${Array.from({ length: K }, (_, k) => `h${k} * sC[(i0 + ${k}u) * ${TP}u + t]`).join(" + ")};
    }
    workgroupBarrier();
    // 4. y = (Σ lanes + D u)${hasZ ? " · silu(z)" : ""}, rows of the chunk's positions
${lines(
  PER,
  (k) =>
    `{ ${tileIndex(k)} let pos = t0 + t; if (pos < ${L}u) { let o = ${lanesSum.join(" + ")} + D[d0 + r] * cu${k};` +
    ` y[rows + r * ${L}u + pos] = ${hasZ ? `o * cz${k} / (1.0 + exp(-cz${k}))` : "o"}; } }`,
  "    ",
)}
  }
}
`;
}

/**
 * Creates a hand-written WGSL selective scan (forward only) on gpu.js's shared WebGPU device,
 * for the same uploads as {@link createFusedGpuScan} (mode "webgpu"). The shader compiles on the
 * first forward of each size. Node needs Dawn (see installWebGpu, which the upload calls).
 */
export function createWgslScan(options: WgslScanOptions = {}): WgslScanner {
  const tiling = checkTiling("createWgslScan", options);
  // the uploads (argument checks included) are the fused gpu.js scan's
  const uploader = createFusedGpuScan({ mode: "webgpu" });
  let compiled: { key: string; pipeline: WgslPipeline; plan: WgslScanPlan; source: string } | null =
    null;
  let output: { out: unknown; size: number[] } | null = null;

  return {
    tiling,
    // the fused scan's checks, their errors named for the function the user called
    upload: (args) =>
      uploader.upload(args).catch((e: unknown) => {
        if (e instanceof Error) {
          e.message = e.message.replace(/^FusedGpuScanner\.upload:/, "WgslScanner.upload:");
        }
        throw e;
      }),
    async forward(inputs) {
      const name = "WgslScanner.forward";
      checkArg(name, "inputs", inputs, schema.object());
      const { dims, values: v } = inputs;
      const key = JSON.stringify(dims);
      if (compiled?.key !== key) {
        const limits = await webGpuLimits();
        const p = plan(name, dims, tiling, limits.maxComputeWorkgroupStorageSize);
        const code = source(dims, p);
        compiled = { key, pipeline: await compileWgsl(name, code), plan: p, source: code };
      }
      const size = [dims.length, dims.dim, dims.batch];
      if (output?.size.join() !== size.join()) {
        if (output) releaseDeviceValue(output.out);
        output = { out: await allocateWebGpuBuffer(size), size };
      }
      const buffers = [v.u, v.delta, v.A, v.B, v.C, v.Dv, v.bias, output.out];
      if (dims.hasZ) buffers.push(v.z);
      compiled.pipeline.dispatch(buffers, compiled.plan.workgroups);
      return output.out;
    },
    async read(out) {
      const size = output?.size;
      if (!size || out !== output!.out) {
        throw new Error(
          "WgslScanner.read: argument 'out' must be the output of this scanner's last forward",
        );
      }
      const [L, dim, batch] = size;
      return {
        out: { shape: [batch, dim, L], data: await readWebGpuBuffer(out, batch * dim * L) },
      };
    },
    free(...values) {
      uploader.free(...values.filter((v) => v !== output?.out));
    },
    plan: () => compiled?.plan ?? null,
    source: () => compiled?.source ?? null,
    destroy() {
      if (output) releaseDeviceValue(output.out);
      output = null;
      compiled = null;
      uploader.destroy();
    },
  };
}
