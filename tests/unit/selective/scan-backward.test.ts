/**
 * The selective scan's backward (lib/src/selective/scan-backward.ts): every gradient against
 * central finite differences of the forward selectiveScan (float64), chunked recomputation equal to
 * storing everything, and the memory accounting against the bytes the cache holds.
 */
import { describe, expect, it } from "vitest";
import {
  Rng,
  type Tensor,
  scanTrainingMemory,
  selectiveScan,
  selectiveScanBackward,
  selectiveScanForwardTrain,
} from "../../../lib/src/index";

/** Small float64 scan arguments with every optional input present. */
function randomArgs(rng: Rng, b: number, d: number, l: number, n: number) {
  const A = rng.rand([d, n], 0.2, 1.5);
  for (let i = 0; i < A.data.length; i++) A.data[i] = -A.data[i];
  return {
    u: rng.randn([b, d, l]),
    delta: rng.randn([b, d, l], 0.5),
    A,
    B: rng.randn([b, n, l]),
    C: rng.randn([b, n, l]),
    D: rng.randn([d]),
    z: rng.randn([b, d, l]),
    deltaBias: rng.randn([d], 0.3),
    deltaSoftplus: true,
  };
}

type Args = ReturnType<typeof randomArgs>;
const NAMES = ["u", "delta", "A", "B", "C", "D", "z", "deltaBias"] as const;
const GRAD = {
  u: "du",
  delta: "ddelta",
  A: "dA",
  B: "dB",
  C: "dC",
  D: "dD",
  z: "dz",
  deltaBias: "ddeltaBias",
} as const;

/** loss = Σ out · w, evaluated with lib's forward selectiveScan (not the training code). */
function loss(args: Args, w: Tensor): number {
  const { out } = selectiveScan(args);
  let s = 0;
  for (let i = 0; i < w.data.length; i++) s += out.data[i] * w.data[i];
  return s;
}

/** Central finite differences of loss for every entry of args[name]; step 1e-6, float64. */
function finiteDiff(args: Args, w: Tensor, name: (typeof NAMES)[number]): Float64Array {
  const t = args[name] as Tensor;
  const g = new Float64Array(t.data.length);
  const h = 1e-6;
  for (let i = 0; i < t.data.length; i++) {
    const keep = t.data[i];
    t.data[i] = keep + h;
    const up = loss(args, w);
    t.data[i] = keep - h;
    const down = loss(args, w);
    t.data[i] = keep;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

describe("selective scan backward", () => {
  const rng = new Rng(13);
  const args = randomArgs(rng, 2, 3, 7, 4);
  const w = rng.randn([2, 3, 7]);

  for (const strategy of ["store-all", "recompute"] as const) {
    it(`${strategy}: every gradient matches central finite differences (float64, 1e-6 relative)`, () => {
      const { out, cache } = selectiveScanForwardTrain(args, { strategy, chunkSize: 3 });
      const ref = selectiveScan(args).out;
      for (let i = 0; i < out.data.length; i++) expect(out.data[i]).toBeCloseTo(ref.data[i], 12);
      const grads = selectiveScanBackward(cache, w);
      for (const name of NAMES) {
        const fd = finiteDiff(args, w, name);
        const got = grads[GRAD[name]]!;
        expect(got.shape).toEqual((args[name] as Tensor).shape);
        const scale = Math.max(...fd.map(Math.abs));
        for (let i = 0; i < fd.length; i++) {
          expect(Math.abs(got.data[i] - fd[i]), `${name}[${i}]`).toBeLessThan(1e-6 * scale + 1e-8);
        }
      }
    });
  }

  it("chunked recompute equals store-all for several chunk sizes, without D, z, bias or softplus", () => {
    const r = new Rng(5);
    const full = randomArgs(r, 2, 4, 33, 5);
    const plain = { u: full.u, delta: full.delta, A: full.A, B: full.B, C: full.C };
    for (const a of [full, plain]) {
      const dout = r.randn([2, 4, 33]);
      const base = selectiveScanBackward(
        selectiveScanForwardTrain(a, { strategy: "store-all" }).cache,
        dout,
      );
      for (const chunkSize of [1, 4, 8, 32, 33, 100]) {
        const g = selectiveScanBackward(
          selectiveScanForwardTrain(a, { strategy: "recompute", chunkSize }).cache,
          dout,
        );
        for (const key of Object.keys(base) as (keyof typeof base)[]) {
          const x = base[key]!.data;
          const y = g[key]!.data;
          for (let i = 0; i < x.length; i++)
            expect(Math.abs(x[i] - y[i])).toBeLessThan(1e-12 * (1 + Math.abs(x[i])));
        }
      }
      if (a === plain) expect(base.dD).toBeUndefined();
    }
  });

  it("memory accounting equals the bytes the cache really holds", () => {
    const r = new Rng(1);
    const a = randomArgs(r, 2, 3, 50, 4);
    for (const [strategy, key] of [
      ["store-all", "storeAll"],
      ["recompute", "recompute"],
    ] as const) {
      const { cache } = selectiveScanForwardTrain(a, { strategy, chunkSize: 16 });
      const m = scanTrainingMemory({
        batch: 2,
        dim: 3,
        length: 50,
        dstate: 4,
        chunkSize: 16,
        bytesPerElement: 8,
      });
      const scratch = strategy === "recompute" ? (16 + 1) * 4 * 8 : 0;
      expect(cache.states.byteLength).toBe(m[key] - scratch);
    }
    // 2·3·50·4 states vs 2·3·⌈50/16⌉·4 boundaries + 17·4 scratch, 4 bytes each.
    expect(scanTrainingMemory({ batch: 2, dim: 3, length: 50, dstate: 4, chunkSize: 16 })).toEqual({
      storeAll: 4800,
      recompute: (96 + 68) * 4,
    });
  });

  it("refuses bad options and a mismatched dout, naming the function and argument", () => {
    expect(() => selectiveScanForwardTrain(args, { strategy: "fast" as never })).toThrow(
      /selectiveScanForwardTrain: argument 'options.strategy'/,
    );
    expect(() => selectiveScanForwardTrain(args, { chunk: 2 } as never)).toThrow(
      /unknown key "chunk"/,
    );
    expect(() => selectiveScanForwardTrain(args, { chunkSize: 0 })).toThrow(/chunkSize/);
    const { cache } = selectiveScanForwardTrain(args);
    expect(() => selectiveScanBackward(cache, new Rng(0).randn([2, 3, 6]))).toThrow(
      /selectiveScanBackward: argument 'dout' must be a tensor of shape \[2, 3, 7\]/,
    );
    expect(() => selectiveScanBackward({} as never, w)).toThrow(
      /selectiveScanBackward: argument 'cache'/,
    );
    expect(() => scanTrainingMemory({ batch: 0, dim: 1, length: 1, dstate: 1 })).toThrow(
      /scanTrainingMemory: argument 'config.batch' must be an integer >= 1 \(got 0\)/,
    );
  });
});
