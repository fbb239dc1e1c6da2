/**
 * The simd engines of Mamba-2 (mamba2Forward's and mamba2LossAndGrads' `engine`: the SSD by the
 * chunked algorithm on the gemm, lib/src/ops/simd/ssd.ts) against the reference engine run on a
 * float64 copy of the model (float64 sums):
 * - the SSD op alone, forward and every gradient, with one and with several groups of heads, a
 *   clamped Δ, a state past 64, chunks of one position and one position;
 * - the logits, the loss and every gradient of whole models, within relative 1e-4 of each
 *   tensor's largest entry (float32 rounding), untied with 2 groups, tied with one group and
 *   biases, a sequence longer than a chunk, and Δ clamped;
 * - "simd-threads" (two threads, each a share of the batch) gives the one-thread engine's loss
 *   and gradients;
 * - decoding (mamba2Prefill, mamba2Step, mamba2Generate: float32 models) on "simd" and
 *   "simd-threads": every step's logits and the cache's states within relative 1e-4 of the
 *   reference engine's (float64 sums) on the same model, a prompt long enough to be read in
 *   several chunks;
 * - what is refused, naming the function the user called.
 */
import { afterAll, describe, expect, it } from "vitest";
import {
  Rng,
  type Mamba2Model,
  type Tensor,
  createMamba2Cache,
  createTrainPool,
  mamba2Forward,
  mamba2Generate,
  mamba2LossAndGrads,
  mamba2Prefill,
  mamba2Step,
} from "../../../lib/src/index";
import type { SsdArgs } from "../../../lib/src/ops/backend";
import { reference } from "../../../lib/src/ops/reference/index";
import { simdBackend } from "../../../lib/src/ops/simd/index";
import { ssdChunkedGemm } from "../../../lib/src/ops/simd/ssd";
import { SimdMemory } from "../../../lib/src/ops/simd/memory";
import { ModelMemory } from "../../../lib/src/ops/simd/infer";
import { InferPool } from "../../../lib/src/ops/simd/infer-threads";
import { float64Copy, relMax } from "../../helpers/reference";
import { randomMamba2Model } from "../../helpers/mamba2-reference";

const SMALL = {
  vocab_size: 13,
  hidden_size: 16,
  num_hidden_layers: 2,
  state_size: 8,
  head_dim: 8,
  n_groups: 2,
  conv_kernel: 4,
  chunk_size: 16,
};

/** A random float32 model of SMALL with `overrides` (see randomMamba2Model). */
const randomModel = (seed: number, overrides: Record<string, unknown> = {}): Mamba2Model =>
  randomMamba2Model({ ...SMALL, ...overrides }, seed);

function tokens(seed: number, b: number, l: number): number[][] {
  const rng = new Rng(seed);
  return Array.from({ length: b }, () =>
    Array.from({ length: l }, () => rng.int(SMALL.vocab_size)),
  );
}

const pool = createTrainPool({ threads: 2 });
afterAll(() => pool.close());

/** The sizes of random SSD arguments: b × l positions, H heads of P, G groups of N, chunks of Q. */
interface SsdSizes {
  b: number;
  l: number;
  H: number;
  P: number;
  G: number;
  N: number;
  Q: number;
  limit: [number, number];
}

/** Random SSD arguments of `s` (float64), from Rng(seed). */
function ssdArgs(seed: number, s: SsdSizes): SsdArgs {
  const rng = new Rng(seed);
  const t = (shape: number[], f: () => number): Tensor => ({
    shape,
    data: Float64Array.from({ length: shape.reduce((x, y) => x * y) }, f),
  });
  return {
    x: t([s.b, s.l, s.H * s.P], () => rng.normal()),
    dt: t([s.b, s.l, s.H], () => rng.normal() - 1),
    A: t([s.H], () => -Math.exp(rng.normal())),
    B: t([s.b, s.l, s.G * s.N], () => rng.normal()),
    C: t([s.b, s.l, s.G * s.N], () => rng.normal()),
    D: t([s.H], () => rng.normal()),
    dtBias: t([s.H], () => 0.5 * rng.normal()),
    groups: s.G,
    dtLimit: s.limit,
    chunkSize: s.Q,
  };
}

/** `a` with every tensor's values in `Array` (Float32Array rounds; Float64Array is exact). */
function withData(a: SsdArgs, Array: Float32ArrayConstructor | Float64ArrayConstructor): SsdArgs {
  const f = (t: Tensor): Tensor => ({ shape: t.shape, data: Array.from(t.data) });
  return {
    ...a,
    x: f(a.x),
    dt: f(a.dt),
    A: f(a.A),
    B: f(a.B),
    C: f(a.C),
    D: f(a.D),
    dtBias: f(a.dtBias),
  };
}

describe("the simd backend's SSD op", () => {
  const CASES: SsdSizes[] = [
    // chunks of 16 over 70 positions (a partial last chunk), one group
    { b: 2, l: 70, H: 2, P: 8, G: 1, N: 16, Q: 16, limit: [0, Infinity] },
    // two groups of two heads; P not a multiple of 4
    { b: 2, l: 70, H: 4, P: 4, G: 2, N: 8, Q: 16, limit: [0, Infinity] },
    { b: 2, l: 70, H: 3, P: 5, G: 3, N: 4, Q: 16, limit: [0, Infinity] },
    // the clamp cuts some Δ (no gradient reaches dt there); one chunk longer than the sequence
    { b: 1, l: 23, H: 3, P: 5, G: 3, N: 7, Q: 64, limit: [0.2, 0.9] },
    // chunks of one position; a state size past the scan kernels' 64
    { b: 2, l: 9, H: 2, P: 4, G: 1, N: 80, Q: 1, limit: [0, Infinity] },
    // one position
    { b: 2, l: 1, H: 2, P: 6, G: 2, N: 10, Q: 4, limit: [0, Infinity] },
  ];
  for (const s of CASES) {
    it(`forward and every gradient equal the reference SSD (H ${s.H}, P ${s.P}, G ${s.G}, N ${s.N}, Q ${s.Q}, l ${s.l}, limit ${s.limit})`, () => {
      const a = ssdArgs(s.H * 100 + s.G + s.N, s);
      const want = reference.ssd!(a, null);
      const rng = new Rng(7);
      const g: Tensor = {
        shape: want.shape,
        data: Float64Array.from(want.data, () => rng.normal()),
      };
      const wantGrads = reference.ssdBackward!(a, g);
      const simd = simdBackend();
      simd.begin();
      const a32 = withData(a, Float32Array);
      expect(relMax(simd.ssd(a32, null).data, want.data)).toBeLessThan(1e-5);
      const got = simd.ssdBackward(a32, { shape: g.shape, data: Float32Array.from(g.data) });
      // float32 products of O(N + Q + P) terms against the float64 recurrence's backward
      for (const k of ["dx", "ddt", "dA", "dB", "dC", "dD", "ddtBias"] as const) {
        expect(got[k].shape, k).toEqual(wantGrads[k].shape);
        expect(relMax(got[k].data, wantGrads[k].data), k).toBeLessThan(1e-4);
      }
      if (s.limit[0] > 0) {
        // some Δ were clamped, and their dt got no gradient
        const cut = wantGrads.ddt.data.filter((v) => v === 0).length;
        expect(cut).toBeGreaterThan(0);
        expect(got.ddt.data.filter((v) => v === 0).length).toBe(cut);
      }
    });
  }
});

describe("the simd backend's chunked SSD on the gemm", () => {
  /** Random float32 SSD arguments of `s`. */
  const args32 = (seed: number, s: SsdSizes): SsdArgs => withData(ssdArgs(seed, s), Float32Array);
  const f64 = (a: SsdArgs): SsdArgs => withData(a, Float64Array);
  const CASES = [
    // chunks of 16 over 70 positions (a partial last chunk), two groups
    { b: 2, l: 70, H: 4, P: 8, G: 2, N: 16, Q: 16, limit: [0, Infinity] as [number, number] },
    // one chunk longer than the sequence; P not a multiple of 4; the clamp cuts some Δ
    { b: 1, l: 23, H: 3, P: 5, G: 3, N: 7, Q: 64, limit: [0.2, 0.9] as [number, number] },
    // one position (a decoding step: the ssdStep kernel), N not a multiple of 4, clamped Δ
    { b: 2, l: 1, H: 3, P: 6, G: 3, N: 10, Q: 4, limit: [0.1, 2] as [number, number] },
    // chunks of one position, a state size past the scan kernels' 64
    { b: 2, l: 9, H: 2, P: 4, G: 1, N: 80, Q: 1, limit: [0, Infinity] as [number, number] },
  ];
  for (const s of CASES) {
    it(`equals the float64 reference SSD, from a state and from zeros, and leaves the same state (H ${s.H}, P ${s.P}, G ${s.G}, N ${s.N}, Q ${s.Q})`, () => {
      const a = args32(s.N * 10 + s.Q, s);
      const rng = new Rng(s.l);
      const size = s.b * s.H * s.P * s.N;
      const start = Float32Array.from({ length: size }, () => rng.normal());
      // a state of zeros given (a new cache), and one whose first head starts from zeros
      const zeros = new Float32Array(size);
      const partly = start.map((v, i) => (i < s.P * s.N ? 0 : v));
      for (const from of [null, zeros, start, partly]) {
        const refState: Tensor | null = from && {
          shape: [s.b, s.H, s.P, s.N],
          data: Float64Array.from(from),
        };
        const want = reference.ssd!(f64(a), refState);
        const state: Tensor | null = from && {
          shape: [s.b, s.H, s.P, s.N],
          data: Float32Array.from(from),
        };
        const got = ssdChunkedGemm(new SimdMemory(), a, state);
        // float32 products of O(N + Q) terms against float64 sums: relative 1e-5 of the scale.
        expect(relMax(got.data, want.data), "y").toBeLessThan(1e-5);
        if (state && refState)
          expect(relMax(state.data, refState.data), "state").toBeLessThan(1e-5);
      }
    });
  }
  it("with inference threads, shares each chunk's heads over them, and a decoding step's: the one-thread results bit for bit, and the reference's", () => {
    // 8 heads of 16 in 2 groups, chunks of 32 (a partial last one): each chunk's heads are
    // 8 · 32 · (32 · 16 + 2 · 16 · 32) multiply-adds, past the inference backend's split size;
    // one position of 16 heads of 32 with N = 64: 2 · 16 · 3 · 32 · 64, past it too
    const limit: [number, number] = [0, Infinity];
    sharedMatchesOne({ b: 2, l: 70, H: 8, P: 16, G: 2, N: 32, Q: 32, limit });
    sharedMatchesOne({ b: 2, l: 1, H: 16, P: 32, G: 4, N: 64, Q: 32, limit });
  });

  function sharedMatchesOne(s: SsdSizes): void {
    const a = args32(21, s);
    const rng = new Rng(22);
    const start = Float32Array.from({ length: s.b * s.H * s.P * s.N }, () => rng.normal());
    const two = new InferPool(2);
    try {
      const run = (threads: InferPool | null, from: Float32Array | null) => {
        const model = { params: new Map<string, Tensor>() };
        const backend = ModelMemory.of(model).backend(threads);
        backend.start("testCall", model);
        const state: Tensor | null = from && { shape: [s.b, s.H, s.P, s.N], data: from.slice() };
        const y = backend.ssd(a, state);
        return { y: Array.from(y.data), state: state ? Array.from(state.data) : null };
      };
      for (const from of [null, start]) {
        const [one, shared] = [run(null, from), run(two, from)];
        expect(shared).toEqual(one);
        const refState: Tensor | null = from && {
          shape: [s.b, s.H, s.P, s.N],
          data: Float64Array.from(from),
        };
        const want = reference.ssd!(f64(a), refState);
        expect(relMax(shared.y, want.data), "y").toBeLessThan(1e-5);
        if (refState) expect(relMax(shared.state!, refState.data), "state").toBeLessThan(1e-5);
      }
    } finally {
      two.close();
    }
  }

  it("is what the simd backend runs from a decoding state and past the scan's state size", () => {
    const s = CASES[3];
    const a = args32(5, s);
    const simd = simdBackend();
    simd.begin();
    expect(relMax(simd.ssd(a, null).data, reference.ssd!(f64(a), null).data)).toBeLessThan(1e-5);
    const state: Tensor = {
      shape: [s.b, s.H, s.P, s.N],
      data: new Float32Array(s.b * s.H * s.P * s.N),
    };
    const refState: Tensor = { shape: state.shape, data: new Float64Array(state.data.length) };
    simd.begin();
    const got = simd.ssd(a, state);
    expect(relMax(got.data, reference.ssd!(f64(a), refState).data)).toBeLessThan(1e-5);
    expect(relMax(state.data, refState.data)).toBeLessThan(1e-5);
  });
});

describe("Mamba-2 engines against the reference", () => {
  const models: [string, Record<string, unknown>][] = [
    ["untied, 2 groups", {}],
    ["tied, biases, one group", { tie_word_embeddings: true, use_bias: true, n_groups: 1 }],
    ["Δ clamped", { time_step_limit: [0.2, 0.9] }],
  ];
  for (const [name, overrides] of models) {
    it(`logits, loss and every gradient within float32 rounding (${name})`, () => {
      const m = randomModel(3, overrides);
      const m64 = float64Copy(m);
      const ids = tokens(4, 2, 80);
      const want = mamba2Forward(m64, ids);
      const got = mamba2Forward(m, ids, { engine: "simd" });
      expect(got.data).toBeInstanceOf(Float32Array);
      expect(relMax(got.data, want.data)).toBeLessThan(1e-4);

      const ref = mamba2LossAndGrads(m64, ids);
      const simd = mamba2LossAndGrads(m, ids, { engine: "simd" });
      expect(Math.abs(simd.loss - ref.loss) / ref.loss).toBeLessThan(1e-5);
      expect([simd.count, simd.correct]).toEqual([ref.count, ref.correct]);
      expect([...simd.grads.keys()].sort()).toEqual([...ref.grads.keys()].sort());
      for (const [k, g] of ref.grads)
        expect(relMax(simd.grads.get(k)!.data, g.data), k).toBeLessThan(1e-4);

      const threads = mamba2LossAndGrads(m, ids, { engine: "simd-threads", pool });
      expect(Math.abs(threads.loss - simd.loss) / simd.loss).toBeLessThan(1e-6);
      for (const [k, g] of simd.grads)
        expect(relMax(threads.grads.get(k)!.data, g.data), k).toBeLessThan(1e-5);
    });
  }
});

describe("Mamba-2 decoding engines against the reference", () => {
  const models: [string, Record<string, unknown>][] = [
    ["untied, 2 groups", {}],
    ["tied, biases, one group", { tie_word_embeddings: true, use_bias: true, n_groups: 1 }],
    ["Δ clamped", { time_step_limit: [0.2, 0.9] }],
  ];
  for (const [name, overrides] of models) {
    it(`prefill, steps and the cache within float32 rounding (${name})`, () => {
      const m = randomModel(21, overrides);
      // 300 positions at batch 2: the simd engines read the prompt in three chunks
      const ids = tokens(22, 2, 306);
      const prompt = ids.map((r) => r.slice(0, 300));
      const refCache = createMamba2Cache(m, 2);
      const want = [mamba2Prefill(m, refCache, prompt, { engine: "typescript" })];
      for (let t = 300; t < 306; t++)
        want.push(mamba2Step(m, refCache, [ids[0][t], ids[1][t]], { engine: "typescript" }));
      for (const engine of ["simd", "simd-threads"] as const) {
        const cache = createMamba2Cache(m, 2);
        const got = [mamba2Prefill(m, cache, prompt, { engine })];
        for (let t = 300; t < 306; t++)
          got.push(mamba2Step(m, cache, [ids[0][t], ids[1][t]], { engine }));
        for (const [i, logits] of got.entries())
          expect(relMax(logits.data, want[i].data), `${engine}, call ${i}`).toBeLessThan(1e-4);
        for (let layer = 0; layer < m.config.num_hidden_layers; layer++) {
          expect(relMax(cache.ssm[layer].data, refCache.ssm[layer].data)).toBeLessThan(1e-4);
          expect(relMax(cache.conv[layer].data, refCache.conv[layer].data)).toBeLessThan(1e-4);
        }
        expect(cache.position).toBe(306);
      }
    });
  }

  it("greedy generation on every engine picks the same tokens", () => {
    const m = randomModel(23);
    const options = { maxNewTokens: 12, temperature: 0 };
    const want = mamba2Generate(m, [1, 2, 3], { ...options, engine: "typescript" });
    for (const engine of [undefined, "simd", "simd-threads"] as const)
      expect(mamba2Generate(m, [1, 2, 3], { ...options, engine }), engine).toEqual(want);
  });
});

describe("what the Mamba-2 engines refuse", () => {
  const m = randomModel(1);
  const ids = tokens(2, 1, 8);
  it("an unknown engine, naming the function and the option", () => {
    expect(() => mamba2Forward(m, ids, { engine: "gpu" as never })).toThrow(
      /^mamba2Forward: argument 'options\.engine' must be/,
    );
    expect(() => mamba2LossAndGrads(m, ids, { engine: "gpu" as never })).toThrow(
      /^mamba2LossAndGrads: argument 'options\.engine' must be/,
    );
    const cache = createMamba2Cache(m, 1);
    expect(() => mamba2Prefill(m, cache, ids, { engine: "gpu" as never })).toThrow(
      /^mamba2Prefill: argument 'options\.engine' must be/,
    );
    expect(() => mamba2Step(m, cache, [1], { engine: "gpu" as never })).toThrow(
      /^mamba2Step: argument 'options\.engine' must be/,
    );
    const generate = { maxNewTokens: 1, temperature: 0, engine: "gpu" as never };
    expect(() => mamba2Generate(m, [1], generate)).toThrow(
      /^mamba2Generate: argument 'options\.engine' must be/,
    );
  });
  it("the simd engine on a float64 model (it computes in float32)", () => {
    expect(() => mamba2Forward(float64Copy(m), ids, { engine: "simd" })).toThrow(
      /^mamba2Forward: /,
    );
  });
  it("a pool without the simd-threads engine", () => {
    expect(() => mamba2LossAndGrads(m, ids, { engine: "simd", pool })).toThrow(
      /^mamba2LossAndGrads: argument 'options\.pool' must be absent unless options\.engine is "simd-threads"/,
    );
  });
});
