/**
 * The WGSL of lib's hand-written fused selective scan (wgsl-scan.ts runs them): the forward, the
 * forward that also keeps the state entering every chunk, the backward from those states, and
 * the backward's final sums; and the tiling each uses for a size.
 *
 * Forward. One workgroup scans `channels` channels of one batch (and one group of B and C) over
 * the whole sequence, a chunk of `chunk` positions at a time:
 *  1. the chunk's Δ = softplus(delta + bias), Δ·u (channels × chunk) and B, C (n × chunk) go from
 *     registers into workgroup memory: every value of the inputs is read from memory once;
 *  2. the next chunk's loads are issued into registers, in flight while this chunk is scanned;
 *  3. each channel's n states are split over `lanes` invocations, each holding its n / lanes
 *     states in registers: h ← exp(Δ A) h + Δ u B, and its share of C·h for every position;
 *  4. the lanes' shares are added, D u added and the gate silu(z) applied, and y is written: every
 *     output is written once, in rows of `chunk` consecutive positions.
 * Workgroup-memory rows are padded by one value, so lanes reading different rows in the same step
 * hit different banks. For training, the forward also writes the state entering each chunk,
 * (b·d, chunks, n): n / chunk values per input value, what the backward starts each chunk from.
 *
 * Backward (the equations are selective/scan-backward.ts's). The same workgroups walk the chunks
 * in reverse, the adjoint state g = ∂loss/∂h in registers:
 *  1. the chunk's Δ, u, g_o = dout·silu(z), B and C into workgroup memory, the previous chunk's
 *     loads issued;
 *  2. the states inside the chunk recomputed from its entry state (chunk × n / lanes registers);
 *  3. the reverse walk: g ← g + g_o C, the position's shares of ∂u, ∂Δ and ∂A, its ∂B = g Δ u and
 *     ∂C = g_o h, then g ← exp(Δ A) g. ∂B and ∂C (2n values a channel and position, which every
 *     channel of the workgroup shares) are summed over the channels without a barrier: where the
 *     device runs subgroups of one known size, first over the `shuffled` channels of a subgroup
 *     by shuffles that halve the values each invocation holds at every step (one value left of
 *     2n / lanes after log2(shuffled) steps), then written to workgroup memory, a row per
 *     subgroup's channels and position;
 *  4. ∂u, ∂delta and ∂z written once, in rows of the chunk's positions, and the workgroup's sums
 *     of ∂B and ∂C over its channels (the rows of step 3 added up).
 * A second kernel adds the workgroups' sums: ∂B and ∂C over the channel blocks of a group, ∂A,
 * ∂D and ∂δ-bias over the batch. Everything the backward writes goes into one buffer (see
 * {@link wgslGradientLayout}), so the kernel binds at most 10 storage buffers, the limit NVIDIA's
 * Vulkan driver gives WebGPU.
 */
import { checkArg, checkOptions, schema } from "../validate";
import { type ScanDims, checkScanDims } from "./scan-kernels";

/** How the WGSL scan splits its work (see the module comment). */
export interface WgslScanTiling {
  /** Channels per workgroup. */
  channels: number;
  /** Invocations per channel, each holding dstate / lanes states. */
  lanes: number;
  /** Positions per chunk. */
  chunk: number;
  /**
   * The backward only: whether ∂B and ∂C are first summed by subgroup shuffles, where the device
   * runs subgroups of one known size (default true; false sums them in workgroup memory only).
   */
  shuffles?: boolean;
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

const OPTIONS = schema.options({
  channels: schema.optional(schema.integer({ min: 1, max: 256 })),
  lanes: schema.optional(schema.integer({ min: 1, max: 8 })),
  chunk: schema.optional(schema.integer({ min: 1, max: 64 })),
  shuffles: schema.optional(schema.boolean()),
});

/** Workgroups along x at most (WebGPU's default maxComputeWorkgroupsPerDimension). */
const MAX_GROUPS_X = 65535;
/** Invocations per workgroup at most (WebGPU's default maxComputeInvocationsPerWorkgroup). */
const MAX_INVOCATIONS = 256;

/** The tiling asked for in `options`, with its defaults, checked for `fn`. */
export function checkTiling(fn: string, options: WgslScanOptions | undefined): WgslScanTiling {
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
  if (o.shuffles !== undefined) tiling.shuffles = o.shuffles;
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
  return wgslForwardSource(d, p);
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
  return { dims: d, plan: planForward(fn, d, tiling, bytes) };
}

/**
 * The tiling for `dims` nearest to `asked` that the size allows, given the workgroup memory a
 * tiling needs (`bytes(channels, lanes)`): channels the largest divisor of the channels per group
 * (dim / groups) up to the channels asked for, so a workgroup's channels share one B and C; lanes
 * the largest power of two up to those asked for that divides dstate; channels reduced further
 * while the workgroup memory exceeds `workgroupBytesLimit` or the workgroup has over 256
 * invocations. `what` names the shader in the error when even one channel does not fit.
 */
function fitTiling(
  fn: string,
  what: string,
  dims: ScanDims,
  asked: WgslScanTiling,
  workgroupBytesLimit: number,
  bytes: (channels: number, lanes: number) => number,
): WgslScanPlan {
  const perGroup = dims.dim / dims.groups;
  let lanes = asked.lanes;
  while (dims.dstate % lanes !== 0) lanes /= 2;
  let channels = Math.min(asked.channels, perGroup);
  const tooBig = (ch: number) =>
    bytes(ch, lanes) > workgroupBytesLimit || ch * lanes > MAX_INVOCATIONS;
  while (perGroup % channels !== 0 || (channels > 1 && tooBig(channels))) {
    channels--;
  }
  if (bytes(channels, lanes) > workgroupBytesLimit) {
    throw new Error(
      `${fn}: ${what} of ${asked.chunk} positions with dstate ${dims.dstate} needs ${bytes(channels, lanes)} bytes of workgroup memory, over the device's ${workgroupBytesLimit}: ask for a shorter chunk`,
    );
  }
  const blocks = (dims.batch * dims.dim) / channels;
  const x = Math.min(blocks, MAX_GROUPS_X);
  return {
    channels,
    lanes,
    chunk: asked.chunk,
    workgroups: [x, Math.ceil(blocks / x)],
    workgroupBytes: bytes(channels, lanes),
  };
}

/** The forward's tiling for `dims` ({@link fitTiling}): Δ, Δu, B, C and the lanes' shares of y. */
export function planForward(
  fn: string,
  dims: ScanDims,
  asked: WgslScanTiling,
  workgroupBytesLimit: number,
): WgslScanPlan {
  return fitTiling(
    fn,
    "a chunk",
    dims,
    asked,
    workgroupBytesLimit,
    (ch, lanes) => 4 * (asked.chunk + 1) * (2 * ch + 2 * dims.dstate + lanes * ch),
  );
}

/** `count` lines made by `line(k)`, k = 0 .. count − 1 (the source's unrolled loops). */
const lines = (count: number, line: (k: number) => string, indent: string): string =>
  Array.from({ length: count }, (_, k) => indent + line(k)).join("\n");

/**
 * The WGSL both shaders use to move a chunk's tiles, for `dims` tiled as `p`: every invocation
 * moves `perChannel` values of each (channels, chunk) tile and `perBC` of each (n, chunk) tile
 * of B and C, the value j = li + k·WG of a tile being row j / chunk, position j % chunk.
 */
function chunkTiles(dims: ScanDims, p: WgslScanTiling) {
  const { length: L, dstate: N } = dims;
  const { channels: CH, lanes: S, chunk: T } = p;
  const WG = CH * S;
  const TP = T + 1;
  const perChannel = T / S;
  const perBC = Math.ceil((N * T) / WG);
  // the last (n, chunk) tile is partial when n·chunk is not a multiple of the workgroup
  const bcGuard = (N * T) % WG !== 0;
  const tileIndex = (k: number) => `let j = li + ${k * WG}u; let r = j / ${T}u; let t = j % ${T}u;`;
  /**
   * The chunk at `chunkStart` into registers: `${register}${k}` from each [register, buffer] of
   * `rows` (rows of the workgroup's channels, from `rows`), pb${k}, pc${k} from B and C (from
   * `bcRows`); zeros past the sequence's end.
   */
  const load = (registers: [string, string][], chunkStart: string, indent: string) =>
    [
      lines(
        perChannel,
        (k) =>
          `{ ${tileIndex(k)} let pos = ${chunkStart} + t; let at = rows + r * ${L}u + min(pos, ${L - 1}u); let inside = pos < ${L}u;` +
          registers.map(([reg, buf]) => ` ${reg}${k} = select(0.0, ${buf}[at], inside);`).join("") +
          " }",
        indent,
      ),
      lines(
        perBC,
        (k) =>
          `{ ${tileIndex(k)} let pos = ${chunkStart} + t; let at = bcRows + r * ${L}u + min(pos, ${L - 1}u); let inside = pos < ${L}u${bcGuard ? ` && j < ${N * T}u` : ""};` +
          ` pb${k} = select(0.0, B[at], inside); pc${k} = select(0.0, C[at], inside); }`,
        indent,
      ),
    ].join("\n");
  /** The registers pb, pc into the workgroup's sB, sC. */
  const storeBC = (indent: string) =>
    lines(
      perBC,
      (k) =>
        `{ ${tileIndex(k)}${bcGuard ? ` if (j < ${N * T}u) {` : ""} sB[r * ${TP}u + t] = pb${k}; sC[r * ${TP}u + t] = pc${k};${bcGuard ? " }" : ""} }`,
      indent,
    );
  return { perChannel, perBC, bcGuard, tileIndex, load, storeBC };
}

/**
 * The WGSL of the forward for `dims` and `p` (see the module comment); with `saveStates`, it also
 * writes the state entering every chunk into a last binding, (b·d, chunks, n).
 */
export function wgslForwardSource(dims: ScanDims, p: WgslScanPlan, saveStates = false): string {
  const { batch, dim, length: L, dstate: N, groups, softplus, hasZ } = dims;
  const { channels: CH, lanes: S, chunk: T } = p;
  const K = N / S; // states per invocation
  const WG = CH * S; // invocations per workgroup
  const TP = T + 1; // padded row
  const chunks = Math.ceil(L / T);
  const tiles = chunkTiles(dims, p);
  const { perChannel: PER, perBC: PER_BC, tileIndex } = tiles;
  const registers: [string, string][] = [
    ["pu", "u"],
    ["pd", "delta"],
  ];
  if (hasZ) registers.push(["pz", "z"]);
  const load = (chunkStart: string, indent: string) => tiles.load(registers, chunkStart, indent);
  const bindings = ["u", "delta", "A", "B", "C", "D", "bias"].map(
    (name, i) => `@group(0) @binding(${i}) var<storage, read> ${name}: array<f32>;`,
  );
  bindings.push("@group(0) @binding(7) var<storage, read_write> y: array<f32>;");
  if (hasZ) bindings.push("@group(0) @binding(8) var<storage, read> z: array<f32>;");
  if (saveStates) {
    bindings.push(
      `@group(0) @binding(${bindings.length}) var<storage, read_write> states: array<f32>; // (b·d, chunks, n)`,
    );
  }
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
${tiles.storeBC("    ")}
    workgroupBarrier();
    // 2. the next chunk's loads, in flight while this one is scanned
    if (c + 1u < ${chunks}u) {
      let next = t0 + ${T}u;
${load("next", "      ")}
    }
    // 3. the scan over the chunk: this invocation's ${K} states in registers${
      saveStates
        ? `, which enter it
${lines(K, (k) => `states[((b * ${dim}u + d0 + ch) * ${chunks}u + c) * ${N}u + i0 + ${k}u] = h${k};`, "    ")}`
        : ""
    }
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

/** The backward's tiling for one size: the forward's, and how ∂B and ∂C are summed. */
export interface WgslBackwardPlan extends WgslScanPlan {
  /** The device's subgroup size the shader is written for (0: none known). */
  subgroupSize: number;
  /** Channels whose ∂B and ∂C are summed by subgroup shuffles (1: none; see the module comment). */
  shuffled: number;
}

/**
 * The channels of a workgroup of `channels` × `lanes` invocations whose ∂B, ∂C the shuffles sum
 * in subgroups of `subgroupSize` (0: none): the largest power of two that divides the channels
 * and whose invocations fit one subgroup, so the channels a shuffle pairs are always both there.
 */
function shuffledChannels(channels: number, lanes: number, subgroupSize: number): number {
  let shuffled = 1;
  while (channels % (2 * shuffled) === 0 && 2 * shuffled * lanes <= subgroupSize) shuffled *= 2;
  return shuffled;
}

/** Workgroup memory of the backward, in bytes (see {@link wgslBackwardSource}). */
function backwardBytes(
  channels: number,
  lanes: number,
  dstate: number,
  chunk: number,
  shuffled: number,
): number {
  const TP = chunk + 1;
  // Δ, u, g_o (channels rows); B, C (n rows); the lanes' shares of o, ∂u and ∂Δ; the rows of ∂B,
  // ∂C summed over each subgroup's shuffled channels
  return (
    4 *
    (3 * channels * TP +
      2 * dstate * TP +
      3 * lanes * channels * TP +
      (channels / shuffled) * 2 * dstate * TP)
  );
}

/**
 * The backward's tiling for `dims` ({@link fitTiling}; the chunk is the forward's: the backward
 * starts each chunk from the state the forward kept there) on a device whose subgroups have
 * `subgroupSize` invocations (0: unknown or none; the shuffles are then left out, as when the
 * tiling asks for no shuffles).
 */
export function planBackward(
  fn: string,
  dims: ScanDims,
  asked: WgslScanTiling,
  workgroupBytesLimit: number,
  subgroupSize: number,
): WgslBackwardPlan {
  const size = asked.shuffles === false ? 0 : subgroupSize;
  const plan = fitTiling(
    fn,
    "the backward's chunk",
    dims,
    asked,
    workgroupBytesLimit,
    (ch, lanes) =>
      backwardBytes(ch, lanes, dims.dstate, asked.chunk, shuffledChannels(ch, lanes, size)),
  );
  return {
    ...plan,
    subgroupSize: size,
    shuffled: shuffledChannels(plan.channels, plan.lanes, size),
  };
}

/**
 * Where the backward writes in its one output buffer, as offsets in float32 values: ∂u, ∂delta
 * and (with z) ∂z, each (b, d, l); ∂B then ∂C, each (b, groups, n, l); ∂A (d, n); ∂D then
 * ∂δ-bias, each (d); then the workgroups' sums the second kernel adds up: ∂B, ∂C per channel
 * block, (2, b, d / channels, n, l), ∂A per batch (b, d, n), ∂D and ∂δ-bias per batch (2, b, d).
 * `results` is where the sums begin (everything before is read back); `total` the buffer's size.
 */
export function wgslGradientLayout(dims: ScanDims, channels: number) {
  const { batch, dim, length: L, dstate: N, groups, hasZ } = dims;
  const bdl = batch * dim * L;
  const du = 0;
  const ddelta = bdl;
  const dz = 2 * bdl;
  const dBC = (hasZ ? 3 : 2) * bdl;
  const dA = dBC + 2 * batch * groups * N * L;
  const dDB = dA + dim * N;
  const sumBC = dDB + 2 * dim;
  const sumA = sumBC + 2 * batch * (dim / channels) * N * L;
  const sumDB = sumA + batch * dim * N;
  return {
    du,
    ddelta,
    dz,
    dBC,
    dA,
    dDB,
    results: sumBC,
    sumBC,
    sumA,
    sumDB,
    total: sumDB + 2 * batch * dim,
  };
}

/**
 * The WGSL that sums one position's 2n / lanes values of an invocation (∂B then ∂C of its
 * states) over the `shuffled` channels of its subgroup and writes the sums to sR, a row of (2, n)
 * per subgroup's channels: `setup`, once per invocation, says where; `walk(values, t)` for
 * position t. Step r pairs invocation li with li ^ (lanes·2^r), whose channel differs in bit r:
 * while an invocation holds an even number of values, it keeps one half (the upper where that
 * bit is 1) and adds its partner's same half, which the partner sends in exchange for the other;
 * with one value (or an odd number) left, both keep all and add, and only the invocation whose
 * remaining bits are 0 writes. Invocations fill the subgroups in order of local_invocation_index
 * (as on NVIDIA and SwiftShader; the tests and the benchmark check every gradient).
 */
function shuffleSums(lanes: number, shuffled: number, dims: ScanDims, TP: number) {
  const { dstate: N } = dims;
  const K = N / lanes;
  const count = 2 * K;
  const steps = Math.log2(shuffled);
  const halves: boolean[] = [];
  let held = count;
  for (let r = 0; r < steps; r++) {
    halves.push(held % 2 === 0);
    if (held % 2 === 0) held /= 2;
  }
  // the index among ∂B, ∂C of the invocation's first sum, and whether it writes
  const first = halves
    .map((halved, r) => (halved ? `select(0u, ${count >> (r + 1)}u, up${r})` : ""))
    .filter(Boolean);
  const repeated = halves.map((halved, r) => (halved ? "" : `up${r}`)).filter(Boolean);
  const setup = [
    ...halves.map((_, r) => `let up${r} = (li & ${lanes << r}u) != 0u;`),
    `let first = ${first.length ? first.join(" + ") : "0u"};`,
    ...Array.from(
      { length: held },
      (_, i) =>
        `let at${i} = ((ch / ${shuffled}u) * ${2 * N}u + ((first + ${i}u) / ${K}u) * ${N}u + i0 + (first + ${i}u) % ${K}u) * ${TP}u;`,
    ),
  ];
  if (repeated.length) setup.push(`let writes = !(${repeated.join(" || ")});`);
  const walk = (values: string[], t: number): string[] => {
    const code: string[] = [];
    let cur = values;
    halves.forEach((halved, r) => {
      const mask = `${lanes << r}u`;
      const half = cur.length / 2;
      const next = halved
        ? cur.slice(0, half).map((lo, i) => {
            const hi = cur[i + half];
            code.push(
              `  let s${r}_${i} = select(${lo}, ${hi}, up${r}) + subgroupShuffleXor(select(${hi}, ${lo}, up${r}), ${mask});`,
            );
            return `s${r}_${i}`;
          })
        : cur.map((v, i) => {
            code.push(`  let s${r}_${i} = ${v} + subgroupShuffleXor(${v}, ${mask});`);
            return `s${r}_${i}`;
          });
      cur = next;
    });
    const stores = cur.map((v, i) => `sR[at${i} + ${t}u] = ${v};`).join(" ");
    code.push(repeated.length ? `  if (writes) { ${stores} }` : `  ${stores}`);
    return code;
  };
  return { setup, walk };
}

/**
 * The WGSL of the backward for `dims` and `p` (see the module comment). Bindings: u, delta, AD
 * (A and D, (d, n + 1)), B, C, bias, dout, the forward's chunk-entry states, the output buffer
 * (laid out as {@link wgslGradientLayout} says), and z where there is one.
 */
export function wgslBackwardSource(dims: ScanDims, p: WgslBackwardPlan): string {
  const { batch, dim, length: L, dstate: N, groups, softplus, hasZ } = dims;
  const { channels: CH, lanes: S, chunk: T, shuffled: P } = p;
  const K = N / S;
  const WG = CH * S;
  const TP = T + 1;
  const chunks = Math.ceil(L / T);
  const tiles = chunkTiles(dims, p);
  const { perChannel: PER, perBC: PER_BC, bcGuard, tileIndex } = tiles;
  const registers: [string, string][] = [
    ["pu", "u"],
    ["pd", "delta"],
    ["pg", "dout"],
  ];
  if (hasZ) registers.push(["pz", "z"]);
  const load = (chunkStart: string, indent: string) => tiles.load(registers, chunkStart, indent);
  const at = wgslGradientLayout(dims, CH);
  const rows = CH / P; // rows of ∂B, ∂C a position: one per subgroup's shuffled channels
  const sums = shuffleSums(S, P, dims, TP);
  const bindings = ["u", "delta", "AD", "B", "C", "bias", "dout", "states"].map(
    (name, i) => `@group(0) @binding(${i}) var<storage, read> ${name}: array<f32>;`,
  );
  bindings.push("@group(0) @binding(8) var<storage, read_write> grads: array<f32>;");
  if (hasZ) bindings.push("@group(0) @binding(9) var<storage, read> z: array<f32>;");
  const share = (which: number, lane: string, ch: string, t: string) =>
    `sS[((${which * S}u + ${lane}) * ${CH}u + ${ch}) * ${TP}u + ${t}]`;
  const lanesSum = (which: number) =>
    Array.from({ length: S }, (_, s) => share(which, `${s}u`, "r", "t")).join(" + ");
  const sB = (k: number, t: number) => `sB[(i0 + ${k}u) * ${TP}u + ${t}u]`;
  const sC = (k: number, t: number) => `sC[(i0 + ${k}u) * ${TP}u + ${t}u]`;
  // 2. the states inside the chunk: x${t}_k enters position t (x_{t-1}), x${T}_k leaves the chunk
  const recompute: string[] = [];
  for (let t = 0; t < T; t++) {
    recompute.push(
      `{ let dt = sDt[ch * ${TP}u + ${t}u]; let du = dt * sU[ch * ${TP}u + ${t}u];`,
      ...Array.from(
        { length: K },
        (_, k) => `  x${t + 1}_${k} = exp2(dt * a${k}) * x${t}_${k} + du * ${sB(k, t)};`,
      ),
      `  ${share(0, "lane", "ch", `${t}u`)} = ${Array.from({ length: K }, (_, k) => `x${t + 1}_${k} * ${sC(k, t)}`).join(" + ")}; }`,
    );
  }
  // 3. the reverse walk, each position's ∂B and ∂C summed over the subgroup's channels at once
  const reverse: string[] = [];
  for (let t = T - 1; t >= 0; t--) {
    reverse.push(
      `{ let dt = sDt[ch * ${TP}u + ${t}u]; let uu = sU[ch * ${TP}u + ${t}u]; let go = sDy[ch * ${TP}u + ${t}u];`,
      `  var su = 0.0; var sd = 0.0;`,
    );
    for (let k = 0; k < K; k++) {
      reverse.push(
        `  g${k} = g${k} + go * ${sC(k, t)}; let e${k} = exp2(dt * a${k}); let ex${k} = e${k} * x${t}_${k};` +
          ` let dB${k} = g${k} * dt * uu; let dC${k} = go * x${t + 1}_${k};` +
          ` su = su + g${k} * ${sB(k, t)}; sd = sd + g${k} * (an${k} * ex${k} + ${sB(k, t)} * uu);` +
          ` dA${k} = dA${k} + g${k} * dt * ex${k}; g${k} = e${k} * g${k};`,
      );
    }
    reverse.push(
      `  ${share(1, "lane", "ch", `${t}u`)} = su * dt; ${share(2, "lane", "ch", `${t}u`)} = sd;`,
      ...sums.walk(
        [
          ...Array.from({ length: K }, (_, k) => `dB${k}`),
          ...Array.from({ length: K }, (_, k) => `dC${k}`),
        ],
        t,
      ),
      "}",
    );
  }
  const indent = (code: string[], by: string) => code.map((l) => by + l).join("\n");
  return `// The selective scan's backward, fused: (b, d, l, n) = (${batch}, ${dim}, ${L}, ${N}), ${groups} group(s) of B and C.
// ${CH} channels a workgroup, ${S} invocation(s) a channel holding ${K} states each, chunks of ${T} positions, ∂B and ∂C summed by shuffles over ${P} channel(s).
${P > 1 ? "enable subgroups;\n" : ""}${bindings.join("\n")}

var<workgroup> sDt: array<f32, ${CH * TP}>; // Δ, (channels, chunk)
var<workgroup> sU: array<f32, ${CH * TP}>; // u
var<workgroup> sDy: array<f32, ${CH * TP}>; // g_o = dout·${hasZ ? "silu(z)" : "1"}
var<workgroup> sB: array<f32, ${N * TP}>; // B, (n, chunk)
var<workgroup> sC: array<f32, ${N * TP}>;
var<workgroup> sS: array<f32, ${3 * S * CH * TP}>; // each lane's share of o, ∂u and ∂Δ, (3, lanes, channels, chunk)
var<workgroup> sR: array<f32, ${rows * 2 * N * TP}>; // ∂B then ∂C summed over each subgroup's ${P} channel(s), (${rows}, 2, n, chunk)

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let block = wg.x + wg.y * ${p.workgroups[0]}u;
  if (block >= ${(batch * dim) / CH}u) { return; }
  let b = block / ${dim / CH}u;
  let cb = block % ${dim / CH}u; // the workgroup's block of channels
  let d0 = cb * ${CH}u; // its first channel
  let rows = (b * ${dim}u + d0) * ${L}u; // its first value in u, delta, z, dout, ∂u, ∂delta, ∂z
  let bcRows = (b * ${groups}u + d0 / ${dim / groups}u) * ${N * L}u; // its B and C, (n, l)
  let ch = li / ${S}u;
  let lane = li % ${S}u;
  let i0 = lane * ${K}u;
  // A (an), A premultiplied by log2(e) (a), the adjoint state g and ∂A summed over the positions
${lines(K, (k) => `let an${k} = AD[(d0 + ch) * ${N + 1}u + i0 + ${k}u]; let a${k} = an${k} * 1.4426950408889634; var g${k} = 0.0; var dA${k} = 0.0;`, "  ")}
  // the previous chunk's values in registers; this chunk's raw Δ, u, dout${hasZ ? ", z" : ""} for the output; ∂D, ∂δ-bias sums
${lines(PER, (k) => `var pu${k} = 0.0; var pd${k} = 0.0; var pg${k} = 0.0; var cu${k} = 0.0; var cx${k} = 0.0; var cg${k} = 0.0; var sumD${k} = 0.0; var sumBias${k} = 0.0;${hasZ ? ` var pz${k} = 0.0; var cz${k} = 0.0;` : ""}`, "  ")}
${lines(PER_BC, (k) => `var pb${k} = 0.0; var pc${k} = 0.0;`, "  ")}
${lines(T + 1, (t) => Array.from({ length: K }, (_, k) => `var x${t}_${k} = 0.0;`).join(" "), "  ")}
  // where this invocation's sums of ∂B and ∂C go in sR
${lines(sums.setup.length, (k) => sums.setup[k], "  ")}
  {
${load(`${(chunks - 1) * T}u`, "    ")}
  }
  for (var cc = 0u; cc < ${chunks}u; cc++) {
    let c = ${chunks - 1}u - cc;
    let t0 = c * ${T}u;
    // 1. this chunk into workgroup memory: Δ = ${softplus ? "softplus(delta + bias)" : "delta + bias"}, u, g_o, B, C
${lines(
  PER,
  (k) =>
    `{ ${tileIndex(k)} let x = pd${k} + bias[d0 + r]; var dt = x;${softplus ? " if (x <= 20.0) { dt = log(1.0 + exp(x)); }" : ""}` +
    ` sDt[r * ${TP}u + t] = dt; sU[r * ${TP}u + t] = pu${k}; sDy[r * ${TP}u + t] = ${hasZ ? `pg${k} * pz${k} / (1.0 + exp(-pz${k}))` : `pg${k}`};` +
    ` cu${k} = pu${k}; cx${k} = x; cg${k} = pg${k};${hasZ ? ` cz${k} = pz${k};` : ""} }`,
  "    ",
)}
${tiles.storeBC("    ")}
    workgroupBarrier();
    // the previous chunk's loads, in flight while this one is walked
    if (c > 0u) {
      let next = t0 - ${T}u;
${load("next", "      ")}
    }
    // 2. the states inside the chunk, from the one the forward kept at its entry
${lines(K, (k) => `x0_${k} = states[((b * ${dim}u + d0 + ch) * ${chunks}u + c) * ${N}u + i0 + ${k}u];`, "    ")}
${indent(recompute, "    ")}
    // 3. the reverse walk
${indent(reverse, "    ")}
    workgroupBarrier();
    // 4. ∂u = g_o D + Σ lanes, ∂delta = ∂Δ${softplus ? " σ(delta + bias)" : ""}${hasZ ? ", ∂z = dout o silu'(z)" : ""}, in rows of the chunk's positions
${lines(
  PER,
  (k) =>
    `{ ${tileIndex(k)} let pos = t0 + t; if (pos < ${L}u) { let dd = AD[(d0 + r) * ${N + 1}u + ${N}u]; let go = sDy[r * ${TP}u + t]; let at = rows + r * ${L}u + pos;` +
    ` let dDelta = (${lanesSum(2)})${softplus ? ` / (1.0 + exp(-cx${k}))` : ""};` +
    ` grads[${at.du}u + at] = ${lanesSum(1)} + go * dd; grads[${at.ddelta}u + at] = dDelta;` +
    (hasZ
      ? ` let o = ${lanesSum(0)} + dd * cu${k}; let sg = 1.0 / (1.0 + exp(-cz${k})); grads[${at.dz}u + at] = cg${k} * o * sg * (1.0 + cz${k} * (1.0 - sg));`
      : "") +
    ` sumD${k} = sumD${k} + go * cu${k}; sumBias${k} = sumBias${k} + dDelta; } }`,
  "    ",
)}
    // the workgroup's ∂B and ∂C, (2, b, d / ${CH}, n, l)
${lines(
  PER_BC,
  (k) =>
    `{ ${tileIndex(k)} let pos = t0 + t; if (pos < ${L}u${bcGuard ? ` && j < ${N * T}u` : ""}) { var sb = 0.0; var sc = 0.0;` +
    ` for (var w = 0u; w < ${rows}u; w++) { sb = sb + sR[(w * ${2 * N}u + r) * ${TP}u + t]; sc = sc + sR[(w * ${2 * N}u + ${N}u + r) * ${TP}u + t]; }` +
    ` grads[${at.sumBC}u + ((b * ${dim / CH}u + cb) * ${N}u + r) * ${L}u + pos] = sb;` +
    ` grads[${at.sumBC + batch * (dim / CH) * N * L}u + ((b * ${dim / CH}u + cb) * ${N}u + r) * ${L}u + pos] = sc; } }`,
  "    ",
)}
    workgroupBarrier();
  }
  // the workgroup's sums over the positions: ∂A (b, d, n), ∂D and ∂δ-bias (2, b, d)
${lines(K, (k) => `grads[${at.sumA}u + (b * ${dim}u + d0 + ch) * ${N}u + i0 + ${k}u] = dA${k};`, "  ")}
${lines(PER, (k) => `{ ${tileIndex(k)} sS[r * ${TP}u + t] = sumD${k}; sS[${CH * TP}u + r * ${TP}u + t] = sumBias${k}; }`, "  ")}
  workgroupBarrier();
  if (li < ${CH}u) {
    var sd = 0.0;
    var sb = 0.0;
    for (var t = 0u; t < ${T}u; t++) { sd = sd + sS[li * ${TP}u + t]; sb = sb + sS[${CH * TP}u + li * ${TP}u + t]; }
    grads[${at.sumDB}u + b * ${dim}u + d0 + li] = sd;
    grads[${at.sumDB + batch * dim}u + b * ${dim}u + d0 + li] = sb;
  }
}
`;
}

/** Workgroups of {@link wgslSumsSource} for `dims`, 256 sums each, as [x, y]. */
export function sumsWorkgroups(dims: ScanDims): [number, number] {
  const count =
    2 * dims.batch * dims.groups * dims.dstate * dims.length + dims.dim * (dims.dstate + 2);
  const groups = Math.ceil(count / 256);
  const x = Math.min(groups, MAX_GROUPS_X);
  return [x, Math.ceil(groups / x)];
}

/**
 * The WGSL of the backward's second kernel: the workgroups' sums added up, in place in the
 * output buffer (see {@link wgslGradientLayout}): ∂B and ∂C over the channel blocks of each
 * group, ∂A, ∂D and ∂δ-bias over the batch.
 */
export function wgslSumsSource(dims: ScanDims, channels: number): string {
  const { batch, dim, length: L, dstate: N, groups } = dims;
  const at = wgslGradientLayout(dims, channels);
  const nBC = 2 * batch * groups * N * L;
  const perGroup = dim / groups / channels; // channel blocks per group
  const [x] = sumsWorkgroups(dims);
  return `// The backward's sums: (b, d, l, n) = (${batch}, ${dim}, ${L}, ${N}), ${groups} group(s), ${perGroup} block(s) of ${channels} channels a group.
@group(0) @binding(0) var<storage, read_write> grads: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let i = (wg.x + wg.y * ${x}u) * 256u + li;
  if (i < ${nBC}u) {
    // ∂B or ∂C at (q·b, g, n, pos): the sum over the group's channel blocks
    let pos = i % ${L}u;
    let n = (i / ${L}u) % ${N}u;
    let g = (i / ${N * L}u) % ${groups}u;
    let qb = i / ${groups * N * L}u;
    var s = 0.0;
    for (var k = 0u; k < ${perGroup}u; k++) {
      s = s + grads[${at.sumBC}u + ((qb * ${dim / channels}u + g * ${perGroup}u + k) * ${N}u + n) * ${L}u + pos];
    }
    grads[${at.dBC}u + i] = s;
  } else if (i < ${nBC + dim * N}u) {
    // ∂A at (d, n): the sum over the batch
    let j = i - ${nBC}u;
    var s = 0.0;
    for (var b = 0u; b < ${batch}u; b++) { s = s + grads[${at.sumA}u + b * ${dim * N}u + j]; }
    grads[${at.dA}u + j] = s;
  } else if (i < ${nBC + dim * N + 2 * dim}u) {
    // ∂D (q = 0) or ∂δ-bias (q = 1) at d: the sum over the batch
    let j = i - ${nBC + dim * N}u;
    let q = j / ${dim}u;
    let d = j % ${dim}u;
    var s = 0.0;
    for (var b = 0u; b < ${batch}u; b++) { s = s + grads[${at.sumDB}u + (q * ${batch}u + b) * ${dim}u + d]; }
    grads[${at.dDB}u + j] = s;
  }
}
`;
}
