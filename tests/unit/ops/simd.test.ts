/**
 * The simd backend (lib/src/ops/simd) and the engines that run the model on it, against
 * independent references:
 * - the wasm gemm against a float64 triple loop (odd sizes, strided and transposed A, accumulate);
 * - the wasm scan forward against the float64 recurrence written out here, and the wasm scan
 *   backward against the reference backward (float64, itself checked against finite differences),
 *   with E and N not multiples of 4 and l not a multiple of the chunk, selective and
 *   time-invariant (B, C (E, N));
 * - the backend's other ops (RMSNorm, linear with a bias, the conv, SiLU, split, concat, add)
 *   against the reference backend in float64, and the arena (views survive growth; reset reuses);
 * - every engine's loss and gradients against the reference engine run on a float64 copy of the
 *   model (tolerance: relative 1e-4 of each tensor's largest gradient, float32 rounding), for
 *   every variant, and the backend's forward (logits, decoding states) against the reference's;
 * - threads against one thread (the same sums in another order: relative 1e-5);
 * - a pool worker that dies mid-job: an Error from the step, not a hang;
 * - bad options and bad models refused, by every engine with the reference's message.
 */
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  Rng,
  type Tensor,
  type MambaModel,
  createTrainPool,
  mambaConfig,
  mambaLossAndGrads,
  selectiveScanBackward,
  selectiveScanForwardTrain,
  trainMamba,
} from "../../../lib/src/index";
import { SimdMemory, type ScanOperands, type SimdTensor } from "../../../lib/src/ops/simd/memory";
import { simdBackend } from "../../../lib/src/ops/simd/index";
import { reference } from "../../../lib/src/ops/reference/index";
import { Ops } from "../../../lib/src/ops/tape";
import { type LayerState, MIXER_VARIANTS, mambaLM } from "../../../lib/src/mamba/model";
import type { ShareResult, ShareTask, Share } from "../../../lib/src/ops/simd/threads";
import { float64Copy, relMax } from "../../helpers/reference";

/** A tensor of the memory's arena holding `values` (zeros when absent). */
function put(m: SimdMemory, shape: number[], values?: ArrayLike<number>): SimdTensor {
  const t = m.zeros(shape);
  if (values) t.data.set(values);
  return t;
}

describe("wasm gemm", () => {
  const m = new SimdMemory();
  const rng = new Rng(11);
  const rand = (n: number) => Float64Array.from({ length: n }, () => rng.normal());
  for (const [M, N, K] of [
    [7, 13, 9],
    [4, 8, 1],
    [1, 3, 17],
    [9, 4, 33],
  ]) {
    for (const transA of [false, true]) {
      it(`${M}×${N}×${K}, A ${transA ? "transposed" : "row-major"}, overwrite and accumulate`, () => {
        m.reset();
        const lda = transA ? M + 1 : K + 2; // padded rows: strides are honoured
        const ldb = N + 3;
        const ldc = N + 2;
        const aData = rand((transA ? K : M) * lda);
        const bData = rand(K * ldb);
        const c0 = rand(M * ldc);
        const A = (mm: number, kk: number) =>
          transA ? aData[kk * lda + mm] : aData[mm * lda + kk];
        const a = put(m, [aData.length], aData);
        const b = put(m, [bData.length], bData);
        const c = put(m, [c0.length], c0);
        const [rowStride, colStride] = transA ? [1, lda] : [lda, 1];
        const gemm = (accumulate: boolean) =>
          m.gemm({
            rows: M,
            cols: N,
            inner: K,
            a: { t: a, offset: 0, rowStride, colStride },
            b: { t: b, offset: 0, rowStride: ldb, colStride: 1 },
            c: { t: c, offset: 0, rowStride: ldc, colStride: 1 },
            accumulate,
          });
        gemm(true);
        const acc = Float64Array.from(c.data);
        gemm(false);
        const over = Float64Array.from(c.data);
        const ref = Float64Array.from(c0);
        const prod = new Float64Array(M * ldc);
        for (let mm = 0; mm < M; mm++)
          for (let n = 0; n < N; n++) {
            let x = 0;
            for (let kk = 0; kk < K; kk++) x += A(mm, kk) * bData[kk * ldb + n];
            prod[mm * ldc + n] = x;
            ref[mm * ldc + n] += x;
          }
        for (let mm = 0; mm < M; mm++) {
          for (let n = 0; n < ldc; n++) {
            const i = mm * ldc + n;
            if (n < N) {
              expect(Math.abs(acc[i] - ref[i])).toBeLessThan(1e-5 * (1 + Math.abs(ref[i])) * K);
              expect(Math.abs(over[i] - prod[i])).toBeLessThan(1e-5 * (1 + Math.abs(prod[i])) * K);
            } else {
              // columns past N are not written
              expect(over[i]).toBe(Math.fround(c0[i]));
            }
          }
        }
      });
    }
  }
});

describe("wasm selective scan, forward and backward", () => {
  const cases = [
    { E: 7, N: 5, L: 37, T: 8, gate: true, lti: false },
    { E: 8, N: 16, L: 64, T: 64, gate: true, lti: false },
    { E: 5, N: 3, L: 10, T: 3, gate: false, lti: false },
    { E: 7, N: 5, L: 37, T: 8, gate: false, lti: true },
    { E: 8, N: 16, L: 40, T: 16, gate: true, lti: true },
  ];
  for (const { E, N, L, T, gate, lti } of cases) {
    const name = `E ${E}, N ${N}, L ${L}, chunk ${T}, ${gate ? "gated" : "no gate"}${lti ? ", time-invariant B and C" : ""}`;
    it(name, () => {
      const rng = new Rng(E * 100 + N + (lti ? 7 : 0));
      const Ep = Math.ceil(E / 4) * 4;
      const chunks = Math.ceil(L / T);
      // inputs in the kernels' layout: (L, Ep) rows; B, C (L, N) per position or (E, N) fixed
      const raw = Float64Array.from({ length: L * E }, () => rng.normal());
      const u = Float64Array.from({ length: L * E }, () => rng.normal());
      const z = Float64Array.from({ length: L * E }, () => rng.normal());
      const dy = Float64Array.from({ length: L * E }, () => rng.normal());
      const Bv = Float64Array.from({ length: (lti ? E : L) * N }, () => rng.normal());
      const Cv = Float64Array.from({ length: (lti ? E : L) * N }, () => rng.normal());
      const A = Float64Array.from(
        { length: E * N },
        (_, i) => -(1 + (i % N)) * Math.exp(0.3 * rng.normal()),
      );
      const bias = Float64Array.from({ length: E }, () => 0.5 * rng.normal());
      const D = Float64Array.from({ length: E }, () => rng.normal());
      const padRows = (x: Float64Array) => {
        const o = new Float64Array(L * Ep);
        for (let t = 0; t < L; t++) for (let e = 0; e < E; e++) o[t * Ep + e] = x[t * E + e];
        return o;
      };
      /** (E, N) → (N, Ep), zero columns past E. */
      const transposedPadded = (x: Float64Array) => {
        const o = new Float64Array(N * Ep);
        for (let e = 0; e < E; e++) for (let n = 0; n < N; n++) o[n * Ep + e] = x[e * N + n];
        return o;
      };
      const m = new SimdMemory();
      m.reset();
      const ops: ScanOperands = {
        u: put(m, [1, L, Ep], padRows(u)),
        delta: put(m, [1, L, Ep], padRows(raw)),
        z: gate ? put(m, [1, L, Ep], padRows(z)) : null,
        AT: put(m, [N, Ep], transposedPadded(A)),
        D: put(m, [Ep], D),
        deltaBias: put(m, [Ep], bias),
        B: lti ? put(m, [N, Ep], transposedPadded(Bv)) : put(m, [1, L, N], Bv),
        C: lti ? put(m, [N, Ep], transposedPadded(Cv)) : put(m, [1, L, N], Cv),
        chunk: T,
      };
      const y = m.zeros([1, L, Ep]);
      const dt = m.zeros([1, L, Ep]);
      const states = m.zeros([1, chunks, N, Ep]);
      m.scanForward(ops, { y, dt, states });
      const Bat = (t: number, e: number, n: number) => (lti ? Bv[e * N + n] : Bv[t * N + n]);
      const Cat = (t: number, e: number, n: number) => (lti ? Cv[e * N + n] : Cv[t * N + n]);

      // float64 reference recurrence, (E, L) per channel
      const yRef = new Float64Array(L * E);
      const sRef = new Float64Array(chunks * N * E);
      for (let e = 0; e < E; e++) {
        const h = new Float64Array(N);
        for (let t = 0; t < L; t++) {
          if (t % T === 0) for (let n = 0; n < N; n++) sRef[((t / T) * N + n) * E + e] = h[n];
          const r = raw[t * E + e] + bias[e];
          const d = r > 20 ? r : Math.log1p(Math.exp(r));
          let acc = 0;
          for (let n = 0; n < N; n++) {
            h[n] = Math.exp(d * A[e * N + n]) * h[n] + d * u[t * E + e] * Bat(t, e, n);
            acc += h[n] * Cat(t, e, n);
          }
          acc += D[e] * u[t * E + e];
          const zz = z[t * E + e];
          yRef[t * E + e] = gate ? (acc * zz) / (1 + Math.exp(-zz)) : acc;
        }
      }
      const unpad = (x: ArrayLike<number>, rows: number) => {
        const o = new Float64Array(rows * E);
        for (let t = 0; t < rows; t++) for (let e = 0; e < E; e++) o[t * E + e] = x[t * Ep + e];
        return o;
      };
      expect(relMax(unpad(y.data, L), yRef)).toBeLessThan(1e-5);
      expect(relMax(unpad(states.data, chunks * N), sRef)).toBeLessThan(1e-5);
      // padding lanes stay zero
      for (let t = 0; t < L; t++) for (let e = E; e < Ep; e++) expect(y.data[t * Ep + e]).toBe(0);

      // backward
      const out = {
        du: m.zeros([1, L, Ep]),
        ddelta: m.zeros([1, L, Ep]),
        dz: gate ? m.zeros([1, L, Ep]) : null,
        dAT: m.zeros([N, Ep]),
        dD: m.zeros([Ep]),
        dbias: m.zeros([Ep]),
        dB: lti ? m.zeros([N, Ep]) : m.zeros([1, L, N]),
        dC: lti ? m.zeros([N, Ep]) : m.zeros([1, L, N]),
      };
      m.scanBackward(ops, { dt, states }, put(m, [1, L, Ep], padRows(dy)), out);
      /** (N, Ep) → (E, N). */
      const untranspose = (x: ArrayLike<number>) => {
        const o = new Float64Array(E * N);
        for (let e = 0; e < E; e++) for (let n = 0; n < N; n++) o[e * N + n] = x[n * Ep + e];
        return o;
      };
      const dA = untranspose(out.dAT.data);
      const dD = Float64Array.from(out.dD.data.subarray(0, E));
      const dbias = Float64Array.from(out.dbias.data.subarray(0, E));
      if (!lti) {
        // against the reference backward pass (float64, (b, d, l) layout)
        const toEL = (x: Float64Array): Tensor => {
          const o = new Float64Array(E * L);
          for (let t = 0; t < L; t++) for (let e = 0; e < E; e++) o[e * L + t] = x[t * E + e];
          return { shape: [1, E, L], data: o };
        };
        const toNL = (x: Float64Array): Tensor => {
          const o = new Float64Array(N * L);
          for (let t = 0; t < L; t++) for (let n = 0; n < N; n++) o[n * L + t] = x[t * N + n];
          return { shape: [1, N, L], data: o };
        };
        const { cache } = selectiveScanForwardTrain(
          {
            u: toEL(u),
            delta: toEL(raw),
            A: { shape: [E, N], data: A },
            B: toNL(Bv),
            C: toNL(Cv),
            D: { shape: [E], data: D },
            z: gate ? toEL(z) : null,
            deltaBias: { shape: [E], data: bias },
            deltaSoftplus: true,
          },
          { strategy: "store-all" },
        );
        const ref = selectiveScanBackward(cache, toEL(dy));
        const el = (t: SimdTensor) => toEL(unpad(t.data, L)).data;
        expect(relMax(el(out.du), ref.du.data)).toBeLessThan(1e-4);
        expect(relMax(el(out.ddelta), ref.ddelta.data)).toBeLessThan(1e-4);
        if (gate) expect(relMax(el(out.dz!), ref.dz!.data)).toBeLessThan(1e-4);
        expect(relMax(dA, ref.dA.data)).toBeLessThan(1e-4);
        expect(relMax(dD, ref.dD!.data)).toBeLessThan(1e-4);
        expect(relMax(dbias, ref.ddeltaBias!.data)).toBeLessThan(1e-4);
        // ∂B, ∂C (l, N) per position, (N, L) like the reference
        expect(relMax(toNL(Float64Array.from(out.dB.data)).data, ref.dB.data)).toBeLessThan(1e-4);
        expect(relMax(toNL(Float64Array.from(out.dC.data)).data, ref.dC.data)).toBeLessThan(1e-4);
      } else {
        // against the reference backend's token-major scan backward (float64, B and C (E, N))
        const tm = (x: Float64Array): Tensor => ({ shape: [1, L, E], data: x });
        const args = {
          u: tm(u),
          delta: tm(raw),
          A: { shape: [E, N], data: A },
          B: { shape: [E, N], data: Bv },
          C: { shape: [E, N], data: Cv },
          D: { shape: [E], data: D },
          z: gate ? tm(z) : null,
          deltaBias: { shape: [E], data: bias },
        };
        const { saved } = reference.selectiveScanTrain(args, {
          strategy: "store-all",
          chunkSize: T,
        });
        const ref = reference.selectiveScanBackward(args, saved, tm(dy));
        expect(relMax(unpad(out.du.data, L), ref.du.data)).toBeLessThan(1e-4);
        expect(relMax(unpad(out.ddelta.data, L), ref.ddelta.data)).toBeLessThan(1e-4);
        if (gate) expect(relMax(unpad(out.dz!.data, L), ref.dz!.data)).toBeLessThan(1e-4);
        expect(relMax(dA, ref.dA.data)).toBeLessThan(1e-4);
        expect(relMax(dD, ref.dD.data)).toBeLessThan(1e-4);
        expect(relMax(dbias, ref.ddeltaBias.data)).toBeLessThan(1e-4);
        expect(relMax(untranspose(out.dB.data), ref.dB.data)).toBeLessThan(1e-4);
        expect(relMax(untranspose(out.dC.data), ref.dC.data)).toBeLessThan(1e-4);
      }
    });
  }
});

describe("the other ops of the simd backend, against the reference backend in float64", () => {
  const simd = simdBackend();
  const rng = new Rng(21);
  /** A float32 tensor of normal values and its float64 copy. */
  const pair = (shape: number[], scale = 1): [Tensor, Tensor] => {
    const n = shape.reduce((a, x) => a * x, 1);
    const f = Float32Array.from({ length: n }, () => scale * rng.normal());
    return [
      { shape, data: f },
      { shape, data: Float64Array.from(f) },
    ];
  };

  for (const [rows, d] of [
    [5, 7],
    [130, 64],
  ]) {
    it(`RMSNorm and its backward, ${rows} rows of ${d} (float64 sums of ∂w across slabs)`, () => {
      simd.begin();
      const [x, x64] = pair([rows, d]);
      const [w, w64] = pair([d]);
      const [g, g64] = pair([rows, d]);
      expect(
        relMax(simd.rmsNorm(x, w, 1e-5).data, reference.rmsNorm(x64, w64, 1e-5).data),
      ).toBeLessThan(1e-5);
      const f = simd.rmsNormBackward(x, w, 1e-5, g);
      const r = reference.rmsNormBackward(x64, w64, 1e-5, g64);
      expect(relMax(f.dx.data, r.dx.data)).toBeLessThan(1e-5);
      expect(relMax(f.dweight.data, r.dweight.data)).toBeLessThan(1e-5);
    });
  }

  it("linear with a bias and its backward, across the 256-position slabs of ∂W", () => {
    simd.begin();
    const [x, x64] = pair([3, 100, 9]);
    const [w, w64] = pair([7, 9]);
    const [bias, bias64] = pair([7]);
    const [g, g64] = pair([3, 100, 7]);
    const y = simd.linear(x, w, bias);
    expect(y.shape).toEqual([3, 100, 7]);
    expect(relMax(y.data, reference.linear(x64, w64, bias64).data)).toBeLessThan(1e-5);
    const f = simd.linearBackward(x, w, g, true);
    const r = reference.linearBackward(x64, w64, g64, true);
    expect(relMax(f.dx.data, r.dx.data)).toBeLessThan(1e-5);
    expect(relMax(f.dweight.data, r.dweight.data)).toBeLessThan(1e-5);
    expect(relMax(f.dbias!.data, r.dbias!.data)).toBeLessThan(1e-5);
  });

  it.each([
    [2, 9, 7, 4, "7 channels (padded to 8)"],
    [1, 2, 5, 4, "a sequence shorter than the taps"],
    [1, 1, 4, 4, "one position"],
    [3, 6, 8, 3, "three taps"],
    [2, 11, 3, 2, "two taps"],
    [1, 5, 4, 1, "one tap"],
  ])(
    "causal conv and its backward: b %i, l %i, %i channels, %i taps (%s), with a bias",
    (b, l, C, K) => {
      simd.begin();
      const [x, x64] = pair([b, l, C]);
      const [w, w64] = pair([C, 1, K]);
      const [bias, bias64] = pair([C]);
      const [g, g64] = pair([b, l, C]);
      const y = simd.causalConv1d(x, w, bias, null);
      expect(y.shape).toEqual([b, l, C]);
      expect(relMax(y.data, reference.causalConv1d(x64, w64, bias64, null).data)).toBeLessThan(
        1e-5,
      );
      const f = simd.causalConv1dBackward(x, w, g, true);
      const r = reference.causalConv1dBackward(x64, w64, g64, true);
      expect(relMax(f.dx.data, r.dx.data)).toBeLessThan(1e-5);
      expect(relMax(f.dweight.data, r.dweight.data)).toBeLessThan(1e-5);
      expect(relMax(f.dbias!.data, r.dbias!.data)).toBeLessThan(1e-5);
    },
  );

  it("SiLU and its backward, 11 values (a partial vector)", () => {
    simd.begin();
    const [x, x64] = pair([11], 3);
    const [g, g64] = pair([11]);
    expect(relMax(simd.silu(x).data, reference.silu(x64).data)).toBeLessThan(1e-5);
    expect(
      relMax(simd.siluBackward(x, g).data, reference.siluBackward(x64, g64).data),
    ).toBeLessThan(1e-5);
  });

  it("split, concat, last position, add and addInto: exact", () => {
    simd.begin();
    const [x, x64] = pair([2, 3, 11]);
    const parts = simd.split(x, [4, 2, 5]);
    const ref = reference.split(x64, [4, 2, 5]);
    parts.forEach((p, i) => {
      expect(p.shape).toEqual(ref[i].shape);
      expect(Array.from(p.data)).toEqual(Array.from(ref[i].data));
    });
    expect(Array.from(simd.concat(parts).data)).toEqual(Array.from(x.data));
    expect(Array.from(simd.lastPosition(x).data)).toEqual(
      Array.from(reference.lastPosition(x64).data),
    );
    const sum = simd.add(parts[2], parts[2]);
    expect(Array.from(sum.data)).toEqual(Array.from(ref[2].data, (v) => Math.fround(2 * v)));
    simd.addInto(sum, parts[2]);
    expect(Array.from(sum.data)).toEqual(
      Array.from(ref[2].data, (v) => Math.fround(Math.fround(2 * v) + v)),
    );
  });
});

describe("the arena", () => {
  it("keeps a tensor valid when the memory grows, and reuses its memory after reset()", () => {
    const m = new SimdMemory();
    m.reset();
    const a = m.alloc([4]);
    a.data.set([1, 2, 3, 4]);
    const big = m.zeros([16 << 20]); // 64 MiB: the memory grows under a
    big.data[big.data.length - 1] = 5;
    expect(Array.from(a.data)).toEqual([1, 2, 3, 4]);
    const b = m.alloc([4]);
    m.add(a, a, b);
    expect(Array.from(b.data)).toEqual([2, 4, 6, 8]);
    expect(m.owns(a)).toBe(true);
    expect(m.owns({ shape: [4], data: new Float32Array(4) })).toBe(false);
    m.reset();
    expect(m.owns(a)).toBe(false);
    expect(m.alloc([4]).at()).toBe(a.at());
  });
});

/** A small random Mamba (random everywhere, so no gradient is trivially zero) in float32. */
function randomModel(
  seed: number,
  c: { d: number; E: number; N: number; R: number; layers: number; V: number; tie: boolean },
): MambaModel {
  const rng = new Rng(seed);
  const config = mambaConfig({
    vocab_size: c.V,
    hidden_size: c.d,
    num_hidden_layers: c.layers,
    state_size: c.N,
    conv_kernel: 4,
    time_step_rank: c.R,
    expand: c.E / c.d, // intermediate_size = expand · hidden_size, as in Hugging Face's config
    layer_norm_epsilon: 1e-5,
    use_bias: false,
    use_conv_bias: true,
    tie_word_embeddings: c.tie,
  });
  const shapes: [string, number[]][] = [["backbone.embeddings.weight", [c.V, c.d]]];
  for (let i = 0; i < c.layers; i++) {
    const m = `backbone.layers.${i}.mixer.`;
    shapes.push(
      [`backbone.layers.${i}.norm.weight`, [c.d]],
      [m + "in_proj.weight", [2 * c.E, c.d]],
      [m + "conv1d.weight", [c.E, 1, 4]],
      [m + "conv1d.bias", [c.E]],
      [m + "x_proj.weight", [c.R + 2 * c.N, c.E]],
      [m + "dt_proj.weight", [c.E, c.R]],
      [m + "dt_proj.bias", [c.E]],
      [m + "A_log", [c.E, c.N]],
      [m + "D", [c.E]],
      [m + "out_proj.weight", [c.d, c.E]],
    );
  }
  shapes.push(["backbone.norm_f.weight", [c.d]]);
  if (!c.tie) shapes.push(["lm_head.weight", [c.V, c.d]]);
  const params = new Map<string, Tensor>();
  for (const [name, shape] of shapes) {
    const n = shape.reduce((a, x) => a * x, 1);
    const data = Float32Array.from({ length: n }, (_, i) => {
      if (name.endsWith("A_log")) return Math.log(1 + (i % c.N)) + 0.2 * rng.normal();
      if (name.endsWith("norm.weight") || name.endsWith("norm_f.weight"))
        return 1 + 0.2 * rng.normal();
      // matrices: the scale of the model's init (1/√fan-in), so activations stay O(1)
      return (shape.length >= 2 ? 1 / Math.sqrt(shape[shape.length - 1]) : 0.5) * rng.normal();
    });
    params.set(name, { shape, data });
  }
  return { config, params };
}

function tokensOf(seed: number, b: number, l: number, V: number) {
  const rng = new Rng(seed);
  return { shape: [b, l], data: Int32Array.from({ length: b * l }, () => rng.int(V)) };
}

const pool2 = createTrainPool({ threads: 2 });
const pool3 = createTrainPool({ threads: 3 });
afterAll(() => {
  pool2.close();
  pool3.close();
});

describe("engines agree with the reference engine", () => {
  const sizes = [
    {
      name: "odd sizes (E 7, N 5, d 7, untied head)",
      c: { d: 7, E: 7, N: 5, R: 2, layers: 2, V: 7, tie: false },
      b: 3,
      l: 37,
      chunk: 8,
    },
    {
      name: "Table 1 shape (E 128, N 16, d 64)",
      c: { d: 64, E: 128, N: 16, R: 4, layers: 2, V: 16, tie: true },
      b: 2,
      l: 70,
      chunk: 64,
    },
  ];
  for (const { name, c, b, l, chunk } of sizes) {
    for (const variant of MIXER_VARIANTS) {
      for (const engine of ["simd", "simd-threads"] as const) {
        it(`${engine}, ${variant}, ${name}`, () => {
          const model = randomModel(5, c);
          const ref64 = float64Copy(model);
          const tokens = tokensOf(9, b, l, c.V);
          const rng = new Rng(4);
          const mask = Float64Array.from({ length: b * l }, () => (rng.uniform() < 0.8 ? 1 : 0));
          const opts = { variant, chunkSize: chunk, mask };
          const ref = mambaLossAndGrads(ref64, tokens, opts);
          const fast = mambaLossAndGrads(model, tokens, {
            ...opts,
            engine,
            ...(engine === "simd-threads" ? { pool: pool2 } : {}),
          });
          expect(Math.abs(fast.loss - ref.loss) / ref.loss).toBeLessThan(1e-5);
          expect(fast.count).toBe(ref.count);
          expect(fast.correct).toBe(ref.correct);
          for (const [k, g] of ref.grads) {
            const f = fast.grads.get(k)!;
            expect(f.shape, k).toEqual(g.shape);
            expect(f.data).toBeInstanceOf(Float32Array);
            expect(relMax(f.data, g.data), k).toBeLessThan(1e-4);
          }
        });
      }
    }
  }
});

describe("the simd backend beyond the Table 1 engines", () => {
  it("a state size past the scan kernels' (N 65) runs the reference scan inside the simd step", () => {
    const model = randomModel(6, { d: 4, E: 4, N: 65, R: 1, layers: 1, V: 5, tie: true });
    const tokens = tokensOf(2, 2, 9, 5);
    const ref = mambaLossAndGrads(float64Copy(model), tokens, { chunkSize: 4 });
    const fast = mambaLossAndGrads(model, tokens, { engine: "simd", chunkSize: 4 });
    expect(Math.abs(fast.loss - ref.loss) / ref.loss).toBeLessThan(1e-5);
    for (const [k, g] of ref.grads)
      expect(relMax(fast.grads.get(k)!.data, g.data), k).toBeLessThan(1e-4);
  });

  it("runs the model forward (logits, last position, decoding states) like the reference", () => {
    const c = { d: 7, E: 7, N: 5, R: 2, layers: 2, V: 7, tie: false };
    const model = randomModel(5, c);
    const ref64 = float64Copy(model);
    const b = 2;
    const l = 13;
    const ids = tokensOf(4, b, l, c.V).data;
    const simd = simdBackend();
    for (const variant of MIXER_VARIANTS) {
      simd.begin();
      const fast = mambaLM(new Ops(simd), model, ids, b, l, { variant });
      const ref = mambaLM(new Ops(reference), ref64, ids, b, l, { variant });
      expect(fast.shape).toEqual([b, l, c.V]);
      expect(relMax(fast.data, ref.data), variant).toBeLessThan(1e-4);
      simd.begin();
      const last = mambaLM(new Ops(simd), model, ids, b, l, { variant, lastPositionOnly: true });
      const refLast = new Float64Array(b * c.V);
      for (let i = 0; i < b; i++)
        refLast.set(ref.data.subarray((i * l + l - 1) * c.V, (i * l + l) * c.V), i * c.V);
      expect(last.shape).toEqual([b, 1, c.V]);
      expect(relMax(last.data, refLast), variant).toBeLessThan(1e-4);
    }
    // decoding: a prompt then one token, carrying each layer's conv and SSM state
    const states = (): LayerState[] =>
      Array.from({ length: c.layers }, () => ({
        conv: { shape: [b, c.E, 4], data: new Float64Array(b * c.E * 4) },
        ssm: { shape: [b, c.E, c.N], data: new Float64Array(b * c.E * c.N) },
      }));
    const sFast = states();
    const sRef = states();
    const prompt = ids.subarray(0, b * 1).map((_, i) => ids[i * l]);
    for (const [sts, backend, m] of [
      [sFast, simd, model],
      [sRef, reference, ref64],
    ] as const) {
      if (backend === simd) simd.begin();
      mambaLM(new Ops(backend), m, prompt, b, 1, { variant: "mamba", states: sts });
    }
    simd.begin();
    const next = Int32Array.from({ length: b }, (_, i) => ids[i * l + 1]);
    const stepFast = mambaLM(new Ops(simd), model, next, b, 1, { variant: "mamba", states: sFast });
    const stepRef = mambaLM(new Ops(reference), ref64, next, b, 1, {
      variant: "mamba",
      states: sRef,
    });
    expect(relMax(stepFast.data, stepRef.data)).toBeLessThan(1e-4);
  });
});

describe("simd-threads", () => {
  const c = { d: 6, E: 12, N: 4, R: 1, layers: 1, V: 5, tie: true };
  it("equals one thread, for shares of unequal sizes and a share with nothing to score", () => {
    const model = randomModel(2, c);
    const b = 5;
    const l = 19;
    const tokens = tokensOf(3, b, l, c.V);
    // rows 3 and 4 (the last share of three) are fully masked
    const mask = Float64Array.from({ length: b * l }, (_, p) => (p < 3 * l ? 1 : 0));
    const one = mambaLossAndGrads(model, tokens, { engine: "simd", mask });
    for (const pool of [pool2, pool3]) {
      const many = mambaLossAndGrads(model, tokens, { engine: "simd-threads", pool, mask });
      expect(Math.abs(many.loss - one.loss) / one.loss).toBeLessThan(1e-6);
      expect(many.count).toBe(one.count);
      for (const [k, g] of one.grads)
        expect(relMax(many.grads.get(k)!.data, g.data), k).toBeLessThan(1e-5);
    }
    // the pool adopted the parameters: they now live in shared memory, same values
    for (const p of model.params.values()) expect(p.data.buffer).toBeInstanceOf(SharedArrayBuffer);
  });

  it("trains in the training loop: the same losses as the simd engine, step after step", async () => {
    const run = async (engine: "simd" | "simd-threads") => {
      const model = randomModel(8, c);
      const r = await trainMamba(model, {
        batch: (rng) => ({ tokens: tokensOf(rng.int(1000), 4, 16, c.V) }),
        schedule: { peakLr: 1e-2, warmupSteps: 1, totalSteps: 4 },
        engine,
        ...(engine === "simd-threads" ? { pool: pool2 } : {}),
        display: false,
      });
      return r.history.map((h) => h.loss);
    };
    const a = await run("simd");
    const t = await run("simd-threads");
    expect(a.length).toBe(4);
    for (let i = 0; i < 4; i++) expect(Math.abs(t[i] - a[i]) / a[i]).toBeLessThan(1e-5);
  });
});

describe("a pool worker that dies", () => {
  const params = new Map<string, Tensor>([["w", { shape: [2], data: new Float32Array(2) }]]);
  const share: Share<null> = {
    params,
    ids: new Int32Array(4),
    targets: new Int32Array(4),
    mask: null,
    b: 2,
    l: 2,
    args: null,
  };
  const zeros = (): ShareResult => ({
    loss: 1,
    count: 2,
    correct: 0,
    grads: new Map([["w", { shape: [2], data: new Float32Array(2) }]]),
  });
  /** The calling thread's share runs `zeros`; the worker's runs `name` of ./pool-tasks.cjs. */
  const task = (name: string): ShareTask<null> => ({
    module: path.join(__dirname, "pool-tasks.cjs"),
    name,
    run: zeros,
  });

  it("mid-job (the thread exits): the step throws, naming the worker and its exit code", () => {
    const pool = createTrainPool({ threads: 2 });
    expect(pool.step(task("zeros"), share).loss).toBe(1); // a live pool answers
    expect(() => pool.step(task("exitMidJob"), share)).toThrow(
      /mambaLossAndGrads: options.pool: worker 1 exited \(code 7\) during a step; the pool is closed/,
    );
    expect(() => pool.step(task("zeros"), share)).toThrow(/the pool is closed/);
    pool.close();
  });

  it("with an error outside its job's try: the step throws the error", () => {
    const pool = createTrainPool({ threads: 2 });
    expect(() => pool.step(task("breaksCounting"), share)).toThrow(
      /mambaLossAndGrads: options.pool: worker 1 threw outside its job: Error: Atomics.add is broken during a step; the pool is closed/,
    );
    pool.close();
  });

  it("an error inside the job: the step throws it and the pool stays usable", () => {
    const pool = createTrainPool({ threads: 2 });
    expect(() => pool.step(task("throws"), share)).toThrow(/a task that throws/);
    expect(pool.step(task("zeros"), share).loss).toBe(1);
    pool.close();
  });
});

describe("bad models", () => {
  // what issue 20 found the old simd engine accepting: every engine now refuses it, in the words
  // of the reference (the checks run once, in mambaLossAndGrads, before any engine)
  const c = { d: 4, E: 8, N: 2, R: 1, layers: 1, V: 3, tie: true };
  const tokens = tokensOf(1, 2, 5, 3);
  const refusal = (model: MambaModel, engine: "typescript" | "simd" | "simd-threads") => {
    try {
      mambaLossAndGrads(model, tokens, {
        engine,
        ...(engine === "simd-threads" ? { pool: pool2 } : {}),
      });
    } catch (e) {
      return (e as Error).message;
    }
    return "accepted";
  };
  it("an in_proj.weight of the wrong shape", () => {
    const model = randomModel(1, c);
    model.params.set("backbone.layers.0.mixer.in_proj.weight", {
      shape: [8, 4],
      data: new Float32Array(32),
    });
    const ref = refusal(model, "typescript");
    expect(ref).toMatch(
      /mambaLossAndGrads: argument 'model.params' must hold "backbone.layers.0.mixer.in_proj.weight" of shape \[16, 4\]/,
    );
    expect(refusal(model, "simd")).toBe(ref);
    expect(refusal(model, "simd-threads")).toBe(ref);
  });
  it("A_log = Infinity (NaN gradients with a finite loss, before)", () => {
    const model = randomModel(1, c);
    model.params.get("backbone.layers.0.mixer.A_log")!.data[3] = Infinity;
    const ref = refusal(model, "typescript");
    expect(ref).toMatch(
      /mambaLossAndGrads: argument 'model.params' must hold finite values \(got Infinity in "backbone.layers.0.mixer.A_log" at flat index 3\)/,
    );
    expect(refusal(model, "simd")).toBe(ref);
    expect(refusal(model, "simd-threads")).toBe(ref);
  });
});

describe("bad options", () => {
  const model = randomModel(1, { d: 4, E: 4, N: 2, R: 1, layers: 1, V: 3, tie: true });
  const tokens = tokensOf(1, 1, 5, 3);
  it("are refused with the function and the option named", () => {
    expect(() => mambaLossAndGrads(model, tokens, { engine: "gpu" as never })).toThrow(
      /mambaLossAndGrads: argument 'options.engine' must be one of "typescript", "simd", "simd-threads"/,
    );
    expect(() => mambaLossAndGrads(model, tokens, { engine: "simd", pool: pool2 })).toThrow(
      /mambaLossAndGrads: argument 'options.pool' must be absent unless options.engine is "simd-threads"/,
    );
    expect(() =>
      mambaLossAndGrads(model, tokens, { engine: "simd", scanStrategy: "store-all" }),
    ).toThrow(
      /mambaLossAndGrads: argument 'options.scanStrategy' must be "recompute" with the simd engine/,
    );
    expect(() => mambaLossAndGrads(model, tokens, { engine: "simd", chunkSize: 0 })).toThrow(
      /mambaLossAndGrads: argument 'options.chunkSize'/,
    );
    expect(() => createTrainPool({ threads: 0 })).toThrow(
      /createTrainPool: argument 'options.threads'/,
    );
    expect(() => createTrainPool({ workers: 2 } as never)).toThrow(/createTrainPool/);
    const p = createTrainPool({ threads: 2 });
    p.close();
    expect(() => mambaLossAndGrads(model, tokens, { engine: "simd-threads", pool: p })).toThrow(
      /pool was closed/,
    );
  });
});
