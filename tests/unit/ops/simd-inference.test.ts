/**
 * The inference backend of the simd engines (lib/src/ops/simd/infer.ts and its kernels, pool and
 * worker) against references written here in float64 from the equations:
 * - products with W (out, in) in float32, bfloat16 and float16 (the 16-bit values decoded here
 *   from their bit fields), for one position (the streaming kernels of decoding) and many (the
 *   register blocks of a prompt), sizes that are not multiples of the vector widths;
 * - the causal depthwise conv and the selective scan continuing from a decoding state and
 *   leaving it at the last position (selective and time-invariant, with and without the gate,
 *   channel counts and state sizes not multiples of 4; one position, which has a kernel of its
 *   own, and several), and −exp;
 * - weights read in place: moved into the memory once, an update in place seen by the next call,
 *   data moved out and back returning to the tensor's region, a replaced tensor moved in; −exp
 *   of a parameter kept between calls while the parameter holds the same values;
 * - the thread pool: the same results as one thread, bit for bit (a split changes which thread
 *   computes an output, not how); a kernel that traps in a worker throws its error and the pool
 *   stays usable; a worker that dies in the middle of a chunk makes the call throw, naming the
 *   function, instead of hanging.
 * Tolerance: relative 1e-5 of the largest reference value (float32 rounding of sums of at most a
 * few hundred terms).
 */
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Rng, type Tensor } from "../../../lib/src/index";
import { relMax } from "../../helpers/reference";
import type { HalfTensor } from "../../../lib/src/half";
import type { ScanArgs } from "../../../lib/src/ops/backend";
import { ModelMemory } from "../../../lib/src/ops/simd/infer";
import { InferPool, JOB, JobWords } from "../../../lib/src/ops/simd/infer-threads";

const rng = new Rng(11);
const uniform = (n: number, scale = 1): Float32Array =>
  Float32Array.from({ length: n }, () => scale * (2 * rng.uniform() - 1));
const f32 = (shape: number[], scale = 1): Tensor<Float32Array> => ({
  shape,
  data: uniform(
    shape.reduce((a, b) => a * b, 1),
    scale,
  ),
});

/** A bfloat16 pattern's value: the pattern is float32's top 16 bits. */
function bf16Value(bits: number): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setUint32(0, bits << 16);
  return view.getFloat32(0);
}

/** A float16 pattern's value from its fields: (−1)^s · 2^(e−15) · (1 + m/1024), or subnormal. */
function f16Value(bits: number): number {
  const s = bits >> 15 ? -1 : 1;
  const e = (bits >> 10) & 31;
  const m = bits & 1023;
  return e === 0 ? s * m * 2 ** -24 : s * 2 ** (e - 15) * (1 + m / 1024);
}

/** Random 16-bit weights (finite: exponent fields below all-ones), and their values. */
function halfWeights(
  format: "bf16" | "f16",
  shape: number[],
): { w: HalfTensor; values: Float64Array } {
  const n = shape[0] * shape[1];
  const data = new Uint16Array(n);
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const sign = rng.int(2) << 15;
    // bf16: exponents around 2^0 (127 ± 8); f16: the whole finite range, subnormals included
    const exp = format === "bf16" ? 119 + rng.int(16) : rng.int(31);
    const mant = rng.int(format === "bf16" ? 128 : 1024);
    data[i] = format === "bf16" ? sign | (exp << 7) | mant : sign | (exp << 10) | mant;
    values[i] = format === "bf16" ? bf16Value(data[i]) : f16Value(data[i]);
  }
  return { w: { shape, format, data }, values };
}

/** y (M, N) = x (M, K) · Wᵀ in float64. */
function linear64(x: ArrayLike<number>, w: ArrayLike<number>, M: number, N: number, K: number) {
  const y = new Float64Array(M * N);
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += x[m * K + k] * w[n * K + k];
      y[m * N + n] = s;
    }
  return y;
}

/** A fresh memory and its backends (one thread; and two threads over `pool`). */
function setup(pool: InferPool | null = null) {
  const model = { params: new Map<string, Tensor>() };
  const mem = ModelMemory.of(model);
  const backend = mem.backend(pool);
  return { model, mem, m: mem.m, backend, start: () => backend.start("testCall", model) };
}

const pools: InferPool[] = [];
afterAll(() => pools.forEach((p) => p.close()));
function pool2(): InferPool {
  const p = new InferPool(2);
  pools.push(p);
  return p;
}

describe("products with weights in place", () => {
  // M: 1 and 3 positions stream rows (decoding), 5 and 9 use the register blocks
  const sizes = [
    [1, 1, 1],
    [1, 7, 19],
    [3, 5, 24],
    [1, 13, 48],
    [5, 13, 19],
    [9, 10, 40],
    [3, 4, 8],
    // rows of 8200 inputs: blocks of 7 positions (256 KiB of X) against the weight rows
    [20, 6, 8200],
  ];
  it.each(sizes)("float32 W, %i positions, %i × %i", (M, N, K) => {
    const { backend, start } = setup();
    start();
    const x = f32([M, K]);
    const w = f32([N, K]);
    const bias = f32([N]);
    const y = backend.linear(x, w, bias);
    const want = linear64(x.data, w.data, M, N, K).map((v, i) => v + bias.data[i % N]);
    expect(y.shape).toEqual([M, N]);
    expect(relMax(y.data, want)).toBeLessThan(1e-5);
  });
  for (const format of ["bf16", "f16"] as const) {
    it.each(sizes)(`${format} W widened in the kernel, %i positions, %i × %i`, (M, N, K) => {
      const { backend, start } = setup();
      start();
      const x = f32([M, K]);
      const { w, values } = halfWeights(format, [N, K]);
      const y = backend.linear(x, w, null);
      expect(relMax(y.data, linear64(x.data, values, M, N, K))).toBeLessThan(1e-5);
    });
  }
  it("the embedding of 16-bit rows is their values, exactly", () => {
    const { backend, start } = setup();
    start();
    for (const format of ["bf16", "f16"] as const) {
      const { w, values } = halfWeights(format, [6, 5]);
      const ids = Int32Array.from([4, 0, 4]);
      const y = backend.embedding(ids, 1, 3, w);
      const want = [...ids].flatMap((id) => Array.from(values.subarray(id * 5, id * 5 + 5)));
      expect(Array.from(y.data)).toEqual(want);
    }
  });
});

/** The conv of Mamba from its equation, continuing from state (b, C, k) and updating it. */
function conv64(x: Tensor, w: Tensor, bias: Tensor, state: Float64Array): Float64Array {
  const [b, l, C] = x.shape;
  const k = w.shape[2];
  const y = new Float64Array(b * l * C);
  for (let i = 0; i < b; i++)
    for (let c = 0; c < C; c++) {
      // the inputs: the state's k, then x's l
      const seq = [
        ...Array.from(state.subarray((i * C + c) * k, (i * C + c + 1) * k)),
        ...Array.from({ length: l }, (_, t) => x.data[(i * l + t) * C + c]),
      ];
      for (let t = 0; t < l; t++) {
        let s = bias.data[c];
        for (let j = 0; j < k; j++) s += w.data[c * k + j] * seq[t + 1 + j];
        y[(i * l + t) * C + c] = s;
      }
      state.set(seq.slice(l), (i * C + c) * k);
    }
  return y;
}

const softplus = (v: number) => (v > 20 ? v : Math.log1p(Math.exp(v)));
const silu = (v: number) => v / (1 + Math.exp(-v));

/** The selective scan from its equations, continuing from h (b, E, N) and updating it. */
function scan64(a: ScanArgs, h: Float64Array): Float64Array {
  const [b, l, E] = a.u.shape;
  const N = a.A.shape[1];
  const lti = a.B.shape.length === 2;
  const y = new Float64Array(b * l * E);
  for (let i = 0; i < b; i++)
    for (let t = 0; t < l; t++)
      for (let e = 0; e < E; e++) {
        const p = (i * l + t) * E + e;
        const dt = softplus(a.delta.data[p] + a.deltaBias.data[e]);
        const u = a.u.data[p];
        let acc = 0;
        for (let n = 0; n < N; n++) {
          const Bv = lti ? a.B.data[e * N + n] : a.B.data[(i * l + t) * N + n];
          const Cv = lti ? a.C.data[e * N + n] : a.C.data[(i * l + t) * N + n];
          const q = (i * E + e) * N + n;
          h[q] = Math.exp(dt * a.A.data[e * N + n]) * h[q] + dt * Bv * u;
          acc += Cv * h[q];
        }
        y[p] = (acc + a.D.data[e] * u) * (a.z ? silu(a.z.data[p]) : 1);
      }
  return y;
}

function scanArgs(b: number, l: number, E: number, N: number, lti: boolean, gate: boolean) {
  const A = f32([E, N]);
  A.data.forEach((v, i) => (A.data[i] = -Math.exp(v)));
  return {
    u: f32([b, l, E]),
    delta: f32([b, l, E]),
    A,
    B: lti ? f32([E, N]) : f32([b, l, N]),
    C: lti ? f32([E, N]) : f32([b, l, N]),
    D: f32([E]),
    z: gate ? f32([b, l, E]) : null,
    deltaBias: f32([E]),
  };
}

describe("conv and scan continuing from a decoding state", () => {
  it.each([
    [1, 1, 8, 4],
    [2, 5, 12, 4],
    [2, 6, 6, 3],
    [1, 9, 10, 2],
  ])("conv: b %i, l %i, %i channels, width %i", (b, l, C, k) => {
    const { backend, start } = setup();
    start();
    const x = f32([b, l, C]);
    const w = f32([C, 1, k]);
    const bias = f32([C]);
    const state = f32([b, C, k]);
    const want = Float64Array.from(state.data);
    const y = backend.causalConv1d(x, w, bias, state);
    expect(relMax(y.data, conv64(x, w, bias, want))).toBeLessThan(1e-5);
    expect(relMax(state.data, want)).toBeLessThan(1e-6);
  });
  it.each([
    [1, 1, 8, 16, false, true],
    [2, 1, 12, 4, true, false],
    [1, 1, 6, 8, false, false],
    [1, 1, 8, 6, false, true],
    [2, 7, 12, 4, false, true],
    [2, 5, 6, 5, false, false],
    [1, 6, 8, 4, true, true],
    [2, 3, 10, 3, true, false],
    // past the 32 positions whose Δ the kernel makes ahead of their states, not a multiple of 32
    [1, 71, 8, 16, false, true],
    [2, 40, 6, 4, true, false],
  ])("scan: b %i, l %i, E %i, N %i, time-invariant %s, gate %s", (b, l, E, N, lti, gate) => {
    const { backend, start } = setup();
    start();
    const a = scanArgs(b, l, E, N, lti, gate);
    const state = f32([b, E, N]);
    const want = Float64Array.from(state.data);
    const y = backend.selectiveScan(a, state);
    expect(relMax(y.data, scan64(a, want))).toBeLessThan(1e-5);
    expect(relMax(state.data, want)).toBeLessThan(1e-5);
  });
  it("−exp over a length that is not a multiple of 4", () => {
    const { backend, start } = setup();
    start();
    const x = f32([3, 5], 4);
    const y = backend.negExp(x);
    expect(
      relMax(
        y.data,
        Array.from(x.data, (v) => -Math.exp(v)),
      ),
    ).toBeLessThan(1e-6);
  });
});

describe("weights in place", () => {
  it("moves a model's tensors into the memory once; updates in place and replacements are read", () => {
    const w = f32([6, 8]);
    const model = { params: new Map<string, Tensor>([["w", w]]) };
    const mem = ModelMemory.of(model);
    const backend = mem.backend(null);
    const before = w.data;
    const values = Array.from(w.data);
    backend.start("testCall", model);
    expect(w.data).not.toBe(before); // a view of the memory now, same values
    expect(Array.from(w.data)).toEqual(values);
    expect(mem.address(w.data)).toBeGreaterThanOrEqual(0);
    const x = f32([1, 8]);
    const y1 = Array.from(backend.linear(x, w, null).data);
    const view = w.data;
    backend.start("testCall", model);
    expect(w.data).toBe(view); // not moved again
    w.data[0] += 1; // an update in place (what AdamW does)
    const y2 = backend.linear(x, w, null).data;
    expect(y2[0] - y1[0]).toBeCloseTo(x.data[0], 5);
    // data moved elsewhere (as a training pool does) comes back to the tensor's own region
    const moved = Float32Array.from(w.data, (v) => 2 * v);
    w.data = moved;
    backend.start("testCall", model);
    expect(w.data).toBe(view);
    expect(Array.from(w.data)).toEqual(Array.from(moved));
    // a replaced tensor is moved in at the next call
    const fresh = f32([6, 8]);
    model.params.set("w", fresh);
    backend.start("testCall", model);
    expect(mem.address(fresh.data)).toBeDefined();
    const y3 = backend.linear(x, fresh, null).data;
    expect(relMax(y3, linear64(x.data, fresh.data, 1, 6, 8))).toBeLessThan(1e-6);
  });
});

describe("−exp of a parameter, kept between calls", () => {
  it("is reused while the parameter holds the same values, and remade when it changes", () => {
    const aLog = f32([10, 3]); // 30 values: not a multiple of 4
    const model = { params: new Map<string, Tensor>([["A_log", aLog]]) };
    const backend = ModelMemory.of(model).backend(null);
    const want = () => Array.from(aLog.data, (v) => -Math.exp(v));
    const results: Tensor[] = [];
    for (let call = 0; call < 4; call++) {
      backend.start("testCall", model);
      const a = backend.negExp(aLog);
      expect(relMax(a.data, want()), `call ${call}`).toBeLessThan(1e-6);
      results.push(a);
    }
    // from the third call on, the kept result: the same array
    expect(results[3].data).toBe(results[2].data);
    aLog.data[29] += 0.5; // an update in place (what AdamW does), in the last, scalar, lane
    backend.start("testCall", model);
    expect(relMax(backend.negExp(aLog).data, want())).toBeLessThan(1e-6);
    backend.start("testCall", model);
    const remade = backend.negExp(aLog);
    expect(relMax(remade.data, want())).toBeLessThan(1e-6);
    backend.start("testCall", model);
    expect(backend.negExp(aLog).data).toBe(remade.data);
  });
});

describe("the inference pool", () => {
  it("splits products, the conv and the scan over two threads with the one-thread results, bit for bit", () => {
    const one = setup();
    const two = setup(pool2());
    // sizes past the split threshold (2^18 multiply-adds): a decoding step of a wide layer
    const x = f32([1, 512]);
    const w = f32([1030, 512]);
    const { w: wh } = halfWeights("bf16", [1030, 512]);
    const a = scanArgs(1, 40, 64, 16, false, true);
    const states = [f32([1, 64, 16]), f32([1, 64, 16])];
    states[1].data.set(states[0].data);
    const cx = f32([1, 700, 96]);
    const cw = f32([96, 1, 4]);
    const cs = [f32([1, 96, 4]), f32([1, 96, 4])];
    cs[1].data.set(cs[0].data);
    const results = [one, two].map((s, i) => {
      s.start();
      return {
        y: Array.from(s.backend.linear(x, w, null).data),
        yh: Array.from(s.backend.linear(x, wh, null).data),
        scan: Array.from(s.backend.selectiveScan(a, states[i]).data),
        conv: Array.from(s.backend.causalConv1d(cx, cw, null, cs[i]).data),
      };
    });
    expect(results[1]).toEqual(results[0]);
    expect(Array.from(states[1].data)).toEqual(Array.from(states[0].data));
    expect(Array.from(cs[1].data)).toEqual(Array.from(cs[0].data));
  });

  it("claims every chunk once, a quarter of what is left at a time on two threads, single chunks last", () => {
    const job = JobWords.create();
    job.words[JOB.threads] = 2;
    const seq = 6;
    Atomics.store(job.claim, 0, BigInt(seq) << 32n);
    const claims: [number, number][] = [];
    job.claimAndRun(seq, 100, (first, end) => claims.push([first, end]));
    // contiguous from 0 to 100, each claim ⌊left / 4⌋ chunks (at least one)
    let next = 0;
    for (const [first, end] of claims) {
      expect(first).toBe(next);
      expect(end - first).toBe(Math.max(1, Math.floor((100 - first) / 4)));
      next = end;
    }
    expect(next).toBe(100);
    expect(claims[0]).toEqual([0, 25]);
    expect(claims.at(-1)![1] - claims.at(-1)![0]).toBe(1);
    expect(job.words[JOB.done]).toBe(100);
    // a late thread finds the call over and claims nothing
    job.claimAndRun(seq - 2, 100, () => claims.push([-1, -1]));
    expect(claims.at(-1)).not.toEqual([-1, -1]);
  });

  it("runs calls shared or alone, whichever it measures faster, with the same results", () => {
    // more calls than the pool's first calls and two probes (100 shared untimed, then 100 shared
    // and 100 alone, timed): both ways run
    const one = setup();
    const two = setup(pool2());
    const x = f32([1, 512]);
    const w = f32([600, 512]);
    const [a, b] = [one, two].map((s) => {
      const out: number[] = [];
      for (let call = 0; call < 350; call++) {
        s.start();
        out.push(...s.backend.linear(x, w, null).data);
      }
      return out;
    });
    expect(b).toEqual(a);
  });

  it("a kernel that traps: the call throws its error, the pool stays usable", () => {
    const pool = pool2();
    const { mem, start } = setup(pool);
    start();
    const memory = { id: mem.id, wasm: mem.m.wasmMemory };
    // −exp over vectors far past the memory's end, in 8 chunks any thread may take
    const call = (pX: number) => ({
      call: { kernel: "negExp" as const, size: 0, args: [pX, 0, 0, 0] },
      from: 2,
      to: 3,
      units: 4096,
      align: 1,
      chunks: 8,
      work: 1 << 20,
    });
    expect(() => pool.run("testCall", memory, mem.kernels, call(0x7ff00000))).toThrow(
      /memory access out of bounds/,
    );
    expect(() => pool.run("testCall", memory, mem.kernels, call(0))).not.toThrow();
  });

  it("a worker that dies mid-call: the call throws, naming the function, and the pool is closed", () => {
    const dying = new InferPool(2, path.join(__dirname, "infer-dying-worker.cjs"));
    pools.push(dying);
    const { mem, m, start } = setup(dying);
    start();
    // −exp over 4 MiB in 64 chunks: long enough for the worker to wake and claim one
    const x = m.zeros([1 << 20]);
    const call = {
      call: { kernel: "negExp" as const, size: 0, args: [x.at(), x.at(), 0, 0] },
      from: 2,
      to: 3,
      units: 1 << 18,
      align: 1,
      chunks: 64,
      work: 1 << 24,
    };
    const memory = { id: mem.id, wasm: mem.m.wasmMemory };
    // the calling thread may finish the first calls alone, before the worker has started
    let error: Error | null = null;
    for (const t0 = Date.now(); !error && Date.now() - t0 < 20_000;) {
      try {
        dying.run("mambaStep", memory, mem.kernels, call);
      } catch (e) {
        error = e as Error;
      }
    }
    expect(error?.message).toMatch(
      /mambaStep: engine "simd-threads": worker 1 exited \(code 7\) during a call; the pool is closed/,
    );
    expect(dying.usable).toBe(false);
    expect(() => dying.run("mambaStep", memory, mem.kernels, call)).toThrow(/mambaStep: .*closed/);
  });
});
