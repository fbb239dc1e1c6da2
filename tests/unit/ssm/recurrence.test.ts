/**
 * ssmRecurrence and ssmStep (lib/src/ssm/recurrence.ts) against h = Ā h + B̄ u, y = C h written
 * with nested arrays here (float64, 1e-12), batched, per channel and in float32.
 */
import { describe, it, expect } from "vitest";
import { ssmRecurrence, ssmStep } from "../../../lib/src/ssm/recurrence";
import { type Tensor, astype } from "../../../lib/src/tensor";
import { Rng } from "../../../lib/src/rng";
import { randomStableSystem } from "../../helpers/reference";

/** The recurrence written out with nested arrays, independently of lib: h = Ā h + B̄ u, y = C h. */
function referenceRun(Abar: Tensor, Bbar: Tensor, C: Tensor, x: ArrayLike<number>): number[] {
  const n = Bbar.data.length;
  const A = Array.from({ length: n }, (_, i) => Array.from(Abar.data.slice(i * n, i * n + n)));
  let h = new Array(n).fill(0);
  const y: number[] = [];
  for (let k = 0; k < x.length; k++) {
    h = A.map((row, i) => row.reduce((s, a, j) => s + a * h[j], 0) + Bbar.data[i] * x[k]);
    y.push(h.reduce((s, v, i) => s + C.data[i] * v, 0));
  }
  return y;
}

describe("ssmRecurrence", () => {
  const rng = new Rng(11);

  it("matches a nested-array reference on random stable systems (float64, 1e-12)", () => {
    for (const n of [1, 3, 8]) {
      const { Abar, Bbar, C } = randomStableSystem(rng, n);
      const x = rng.randn([50]);
      const y = ssmRecurrence(Abar, Bbar, C, x);
      const want = referenceRun(Abar, Bbar, C, x.data);
      expect(y.shape).toEqual([50]);
      for (let k = 0; k < 50; k++) expect(Math.abs(y.data[k] - want[k])).toBeLessThan(1e-12);
    }
  });

  it("runs every row of x (b, l) through one system and (b, d, l) through d channels", () => {
    const sys = [randomStableSystem(rng, 4), randomStableSystem(rng, 4)];
    const stack = (key: "Abar" | "Bbar" | "C", shape: number[]): Tensor => ({
      shape,
      data: Float64Array.from([...sys[0][key].data, ...sys[1][key].data]),
    });
    const A = stack("Abar", [2, 4, 4]);
    const B = stack("Bbar", [2, 4]);
    const C = stack("C", [2, 1, 4]);
    const x = rng.randn([3, 2, 20]);
    const y = ssmRecurrence(A, B, C, x);
    expect(y.shape).toEqual([3, 2, 20]);
    for (let b = 0; b < 3; b++) {
      for (let c = 0; c < 2; c++) {
        const off = (b * 2 + c) * 20;
        const want = referenceRun(sys[c].Abar, sys[c].Bbar, sys[c].C, x.data.slice(off, off + 20));
        for (let k = 0; k < 20; k++)
          expect(Math.abs(y.data[off + k] - want[k])).toBeLessThan(1e-12);
      }
    }
    const x2 = rng.randn([5, 20]);
    const y2 = ssmRecurrence(sys[1].Abar, sys[1].Bbar, sys[1].C, x2);
    const want = referenceRun(sys[1].Abar, sys[1].Bbar, sys[1].C, x2.data.slice(80, 100));
    for (let k = 0; k < 20; k++) expect(Math.abs(y2.data[80 + k] - want[k])).toBeLessThan(1e-12);
  });

  it("keeps x's dtype: float32 input gives float32 output within 1e-5 relative of float64", () => {
    const { Abar, Bbar, C } = randomStableSystem(rng, 6);
    const x = rng.randn([200]);
    const y64 = ssmRecurrence(Abar, Bbar, C, x);
    const y32 = ssmRecurrence(Abar, Bbar, C, astype(x, "float32"));
    expect(y32.data).toBeInstanceOf(Float32Array);
    let scale = 0;
    for (const v of y64.data) scale = Math.max(scale, Math.abs(v));
    for (let k = 0; k < 200; k++)
      expect(Math.abs(y32.data[k] - y64.data[k])).toBeLessThan(1e-5 * scale);
  });

  it("ssmStep reproduces the recurrence one step at a time", () => {
    const { Abar, Bbar, C } = randomStableSystem(rng, 5);
    const x = rng.randn([30]);
    const y = ssmRecurrence(Abar, Bbar, C, x);
    let h: Tensor = { shape: [5], data: new Float64Array(5) };
    for (let k = 0; k < 30; k++) {
      const step = ssmStep(Abar, Bbar, C, h, x.data[k]);
      h = step.h;
      expect(Math.abs(step.y - y.data[k])).toBeLessThan(1e-12);
    }
  });

  it("rejects bad input with errors naming the argument", () => {
    const { Abar, Bbar, C } = randomStableSystem(rng, 3);
    const x = rng.randn([10]);
    expect(() => ssmRecurrence(rng.randn([3, 2]), Bbar, C, x)).toThrow(
      /ssmRecurrence: argument 'Abar'/,
    );
    expect(() => ssmRecurrence(rng.randn([3]), Bbar, C, x)).toThrow(
      /ssmRecurrence: argument 'Abar'/,
    );
    expect(() => ssmRecurrence(Abar, rng.randn([2, 1]), C, x)).toThrow(
      /ssmRecurrence: argument 'Bbar'/,
    );
    expect(() => ssmRecurrence(Abar, Bbar, rng.randn([3, 1]), x)).toThrow(
      /ssmRecurrence: argument 'C'/,
    );
    const bad = rng.randn([10]);
    bad.data[4] = NaN;
    expect(() => ssmRecurrence(Abar, Bbar, C, bad)).toThrow(/ssmRecurrence: argument 'x'.*finite/);
    expect(() => ssmRecurrence(Abar, Bbar, C, [1, 2] as unknown as Tensor)).toThrow(
      /ssmRecurrence: argument 'x'/,
    );
    const A2 = rng.randn([2, 3, 3]);
    expect(() =>
      ssmRecurrence(A2, rng.randn([2, 3]), rng.randn([2, 3]), rng.randn([3, 10])),
    ).toThrow(/ssmRecurrence: argument 'x'.*d = 2/);
    expect(() => ssmStep(Abar, Bbar, C, rng.randn([4]), 1)).toThrow(/ssmStep: argument 'h'/);
    expect(() => ssmStep(Abar, Bbar, C, rng.randn([3]), NaN)).toThrow(/ssmStep: argument 'u'/);
  });
});
