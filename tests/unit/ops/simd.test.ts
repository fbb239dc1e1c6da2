/**
 * The fast training engines (lib/src/train-fast) against independent references:
 * - the wasm gemm against a float64 triple loop (odd sizes, strided and transposed A, accumulate);
 * - the wasm scan forward against the float64 recurrence written out here, and the wasm scan
 *   backward against the reference backward `selectiveScanBackward` (float64, itself checked
 *   against finite differences), with E and N not multiples of 4 and l not a multiple of the chunk;
 * - every engine's loss and gradients against the reference engine run on a float64 copy of the
 *   model (tolerance: relative 1e-4 of each tensor's largest gradient, float32 rounding);
 * - threads against one thread (the same sums in another order: relative 1e-5);
 * - bad options refused.
 */
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
} from "../../lib/src/index";
import { instantiateTrainKernels } from "../../lib/src/train-fast/engine";

/** max |a − b| / max |b| (b the reference). */
function relMax(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / (den || 1);
}

/** A byte-offset allocator over a kernels instance's memory. */
function scratch(k: ReturnType<typeof instantiateTrainKernels>, bytes: number) {
  const have = k.memory.buffer.byteLength;
  if (bytes > have) k.memory.grow(Math.ceil((bytes - have) / 65536));
  let top = 64;
  const mem = () => new Float32Array(k.memory.buffer);
  return {
    take(n: number, values?: ArrayLike<number>): number {
      const off = top;
      top += Math.ceil((n * 4) / 16) * 16;
      const m = mem();
      m.fill(0, off / 4, off / 4 + n);
      if (values) m.set(values, off / 4);
      return off;
    },
    read: (off: number, n: number) => Float64Array.from(mem().subarray(off / 4, off / 4 + n)),
  };
}

describe("wasm gemm", () => {
  const k = instantiateTrainKernels(4);
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
        const s = scratch(k, 1 << 20);
        const lda = transA ? M + 1 : K + 2; // padded rows: strides are honoured
        const ldb = N + 3;
        const ldc = N + 2;
        const aData = rand((transA ? K : M) * lda);
        const bData = rand(K * ldb);
        const c0 = rand(M * ldc);
        const A = (m: number, kk: number) => (transA ? aData[kk * lda + m] : aData[m * lda + kk]);
        const pA = s.take(aData.length, aData);
        const pB = s.take(bData.length, bData);
        const pC = s.take(c0.length, c0);
        const [sAm, sAk] = transA ? [1, lda] : [lda, 1];
        k.gemm(M, N, K, pA, sAm, sAk, pB, ldb, pC, ldc, 1);
        const acc = s.read(pC, M * ldc);
        k.gemm(M, N, K, pA, sAm, sAk, pB, ldb, pC, ldc, 0);
        const over = s.read(pC, M * ldc);
        const ref = Float64Array.from(c0);
        const prod = new Float64Array(M * ldc);
        for (let m = 0; m < M; m++)
          for (let n = 0; n < N; n++) {
            let x = 0;
            for (let kk = 0; kk < K; kk++) x += A(m, kk) * bData[kk * ldb + n];
            prod[m * ldc + n] = x;
            ref[m * ldc + n] += x;
          }
        for (let m = 0; m < M; m++) {
          for (let n = 0; n < ldc; n++) {
            const i = m * ldc + n;
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
    { E: 7, N: 5, L: 37, T: 8, gate: true },
    { E: 8, N: 16, L: 64, T: 64, gate: true },
    { E: 5, N: 3, L: 10, T: 3, gate: false },
  ];
  for (const { E, N, L, T, gate } of cases) {
    it(`E ${E}, N ${N}, L ${L}, chunk ${T}, ${gate ? "gated" : "no gate"}`, () => {
      const rng = new Rng(E * 100 + N);
      const Ep = Math.ceil(E / 4) * 4;
      const R = 2;
      const J = R + 2 * N;
      const chunks = Math.ceil(L / T);
      // inputs in the engine's layout: (L, E) rows, B and C as columns of an (L, J) buffer
      const raw = Float64Array.from({ length: L * E }, () => rng.normal());
      const u = Float64Array.from({ length: L * E }, () => rng.normal());
      const z = Float64Array.from({ length: L * E }, () => rng.normal());
      const dy = Float64Array.from({ length: L * E }, () => rng.normal());
      const xdbl = Float64Array.from({ length: L * J }, () => rng.normal());
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
      const AT = new Float64Array(N * Ep);
      for (let e = 0; e < E; e++) for (let n = 0; n < N; n++) AT[n * Ep + e] = A[e * N + n];
      const k = instantiateTrainKernels(N);
      const s = scratch(k, 1 << 22);
      const pRaw = s.take(L * Ep, padRows(raw));
      const pU = s.take(L * Ep, padRows(u));
      const pZ = s.take(L * Ep, padRows(z));
      const pDy = s.take(L * Ep, padRows(dy));
      const pX = s.take(L * J, xdbl);
      const pAT = s.take(N * Ep, AT);
      const pBias = s.take(Ep, bias);
      const pD = s.take(Ep, D);
      const pY = s.take(L * Ep);
      const pDt = s.take(L * Ep);
      const pS = s.take(chunks * N * Ep);
      const hasZ = gate ? 1 : 0;
      k.scanFwd(
        L,
        Ep,
        T,
        pRaw,
        pBias,
        pAT,
        pX + 4 * R,
        J,
        pX + 4 * (R + N),
        J,
        pU,
        pZ,
        hasZ,
        pD,
        pY,
        pDt,
        pS,
        s.take(N * 4),
      );

      // float64 reference recurrence, (E, L) per channel
      const yRef = new Float64Array(L * E);
      const sRef = new Float64Array(chunks * N * E);
      for (let e = 0; e < E; e++) {
        const h = new Float64Array(N);
        for (let t = 0; t < L; t++) {
          if (t % T === 0) for (let n = 0; n < N; n++) sRef[((t / T) * N + n) * E + e] = h[n];
          const r = raw[t * E + e] + bias[e];
          const dt = r > 20 ? r : Math.log1p(Math.exp(r));
          let y = 0;
          for (let n = 0; n < N; n++) {
            h[n] = Math.exp(dt * A[e * N + n]) * h[n] + dt * u[t * E + e] * xdbl[t * J + R + n];
            y += h[n] * xdbl[t * J + R + N + n];
          }
          y += D[e] * u[t * E + e];
          const zz = z[t * E + e];
          yRef[t * E + e] = gate ? (y * zz) / (1 + Math.exp(-zz)) : y;
        }
      }
      const unpad = (x: Float64Array, rows: number) => {
        const o = new Float64Array(rows * E);
        for (let t = 0; t < rows; t++) for (let e = 0; e < E; e++) o[t * E + e] = x[t * Ep + e];
        return o;
      };
      expect(relMax(unpad(s.read(pY, L * Ep), L), yRef)).toBeLessThan(1e-5);
      expect(relMax(unpad(s.read(pS, chunks * N * Ep), chunks * N), sRef)).toBeLessThan(1e-5);
      // padding lanes stay zero
      const y = s.read(pY, L * Ep);
      for (let t = 0; t < L; t++) for (let e = E; e < Ep; e++) expect(y[t * Ep + e]).toBe(0);

      // backward against the reference backward pass (float64, (b, d, l) layout)
      const pDu = s.take(L * Ep);
      const pDdelta = s.take(L * Ep);
      const pDz = s.take(L * Ep);
      const pDA = s.take(N * Ep);
      const pDD = s.take(Ep);
      const pDbias = s.take(Ep);
      const pDBv = s.take(L * N * 4);
      const pDCv = s.take(L * N * 4);
      const pXs = s.take((T + 1) * N * 4);
      const pAb = s.take(T * N * 4);
      k.scanBwd(
        L,
        Ep,
        T,
        chunks,
        pRaw,
        pBias,
        pDt,
        pAT,
        pX + 4 * R,
        J,
        pX + 4 * (R + N),
        J,
        pU,
        pZ,
        hasZ,
        pD,
        pS,
        pDy,
        pDu,
        pDdelta,
        pDz,
        pDA,
        pDD,
        pDbias,
        pDBv,
        pDCv,
        pXs,
        pAb,
        s.take(2 * N * 4),
      );
      const toEL = (x: Float64Array): Tensor => {
        const o = new Float64Array(E * L);
        for (let t = 0; t < L; t++) for (let e = 0; e < E; e++) o[e * L + t] = x[t * E + e];
        return { shape: [1, E, L], data: o };
      };
      const cols = (c0: number): Tensor => {
        const o = new Float64Array(N * L);
        for (let t = 0; t < L; t++) for (let n = 0; n < N; n++) o[n * L + t] = xdbl[t * J + c0 + n];
        return { shape: [1, N, L], data: o };
      };
      const { cache } = selectiveScanForwardTrain(
        {
          u: toEL(u),
          delta: toEL(raw),
          A: { shape: [E, N], data: A },
          B: cols(R),
          C: cols(R + N),
          D: { shape: [E], data: D },
          z: gate ? toEL(z) : null,
          deltaBias: { shape: [E], data: bias },
          deltaSoftplus: true,
        },
        { strategy: "store-all" },
      );
      const ref = selectiveScanBackward(cache, toEL(dy));
      const el = (off: number) => toEL(unpad(s.read(off, L * Ep), L)).data;
      expect(relMax(el(pDu), ref.du.data)).toBeLessThan(1e-4);
      expect(relMax(el(pDdelta), ref.ddelta.data)).toBeLessThan(1e-4);
      if (gate) expect(relMax(el(pDz), ref.dz!.data)).toBeLessThan(1e-4);
      const dA = new Float64Array(E * N);
      const dAT = s.read(pDA, N * Ep);
      for (let e = 0; e < E; e++) for (let n = 0; n < N; n++) dA[e * N + n] = dAT[n * Ep + e];
      expect(relMax(dA, ref.dA.data)).toBeLessThan(1e-4);
      expect(relMax(s.read(pDD, E), ref.dD!.data)).toBeLessThan(1e-4);
      expect(relMax(s.read(pDbias, E), ref.ddeltaBias!.data)).toBeLessThan(1e-4);
      // ∂B, ∂C: the lanes of the partial sums added, then (N, L) like the reference
      const lanes = (off: number) => {
        const v = s.read(off, L * N * 4);
        const o = new Float64Array(N * L);
        for (let t = 0; t < L; t++)
          for (let n = 0; n < N; n++) {
            const q = (t * N + n) * 4;
            o[n * L + t] = v[q] + v[q + 1] + v[q + 2] + v[q + 3];
          }
        return o;
      };
      expect(relMax(lanes(pDBv), ref.dB.data)).toBeLessThan(1e-4);
      expect(relMax(lanes(pDCv), ref.dC.data)).toBeLessThan(1e-4);
    });
  }
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

function float64Copy(m: MambaModel): MambaModel {
  const params = new Map<string, Tensor>();
  for (const [k, p] of m.params)
    params.set(k, { shape: [...p.shape], data: Float64Array.from(p.data) });
  return { config: m.config, params };
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
    for (const variant of ["mamba", "s6"] as const) {
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
    expect(() => mambaLossAndGrads(model, tokens, { engine: "simd", variant: "lti" })).toThrow(
      /mambaLossAndGrads: options.variant: "lti"/,
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
