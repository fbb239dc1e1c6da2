/**
 * linearScan's algorithms and Blelloch's sweeps (lib/src/scan/linear-scan.ts) against the
 * recurrence's closed form (tests/helpers/reference.ts, O(L²), float64), forward and reverse (the
 * reverse as the adjoint, by finite differences); work and depth against the algorithms' formulas;
 * linearScanByCumprod's accuracy and its underflow.
 */
import { describe, expect, it } from "vitest";
import { randomRecurrence, recurrenceClosedForm, relErr } from "../../helpers/reference";
import {
  Rng,
  SCAN_ALGORITHMS,
  type ScanStats,
  type Tensor,
  blellochDownSweep,
  blellochUpSweep,
  linearScan,
  linearScanByCumprod,
} from "../../../lib/src/index";

const t1 = (data: Float64Array | Float32Array): Tensor => ({ shape: [data.length], data });

describe("linearScan", () => {
  const lengths = [1, 2, 3, 5, 8, 13, 16, 33, 64, 100];

  for (const algorithm of SCAN_ALGORITHMS) {
    it(`${algorithm} matches the closed form (relative error < 1e-12) for lengths ${lengths.join(", ")}`, () => {
      const rng = new Rng(11);
      for (const L of lengths) {
        const rows = 3;
        const a = new Float64Array(rows * L);
        const b = new Float64Array(rows * L);
        for (let r = 0; r < rows; r++) {
          const s = randomRecurrence(rng, L);
          a.set(s.a, r * L);
          b.set(s.b, r * L);
        }
        const h = linearScan(
          { shape: [rows, L], data: a },
          { shape: [rows, L], data: b },
          { algorithm },
        );
        expect(h.shape).toEqual([rows, L]);
        for (let r = 0; r < rows; r++) {
          const want = recurrenceClosedForm(
            a.subarray(r * L, (r + 1) * L),
            b.subarray(r * L, (r + 1) * L),
          );
          expect(relErr(h.data.subarray(r * L, (r + 1) * L), want)).toBeLessThan(1e-12);
        }
      }
    });
  }

  it("chunked is exact for every chunk size, including 1, L and more than L", () => {
    const rng = new Rng(12);
    const L = 23;
    const { a, b } = randomRecurrence(rng, L);
    const want = recurrenceClosedForm(a, b);
    for (const chunkSize of [1, 2, 4, 5, 7, 22, 23, 24, 100]) {
      const h = linearScan(t1(a), t1(b), { algorithm: "chunked", chunkSize });
      expect(relErr(h.data, want)).toBeLessThan(1e-12);
    }
  });

  it("scans the last axis of a rank-3 tensor, each sequence independently", () => {
    const rng = new Rng(13);
    const shape = [2, 3, 9];
    const a = Float64Array.from({ length: 54 }, () => rng.uniform(-1, 1));
    const b = Float64Array.from({ length: 54 }, () => rng.normal());
    for (const algorithm of SCAN_ALGORITHMS) {
      const h = linearScan({ shape, data: a }, { shape, data: b }, { algorithm });
      for (let r = 0; r < 6; r++) {
        const want = recurrenceClosedForm(
          a.subarray(r * 9, r * 9 + 9),
          b.subarray(r * 9, r * 9 + 9),
        );
        expect(relErr(h.data.subarray(r * 9, r * 9 + 9), want)).toBeLessThan(1e-12);
      }
    }
  });

  it("returns float32 for float32 inputs and float64 otherwise", () => {
    const a32 = new Float32Array([0.5, 0.5, 0.5]);
    const b32 = new Float32Array([1, 1, 1]);
    expect(linearScan(t1(a32), t1(b32)).data).toBeInstanceOf(Float32Array);
    expect(linearScan(t1(a32), t1(Float64Array.from(b32))).data).toBeInstanceOf(Float64Array);
    expect(Array.from(linearScan(t1(a32), t1(b32), { algorithm: "blelloch" }).data)).toEqual([
      1, 1.5, 1.75,
    ]);
  });

  it("reports work and depth as the algorithms' formulas say", () => {
    const rng = new Rng(14);
    for (const L of [1, 2, 7, 16, 50]) {
      const { a, b } = randomRecurrence(rng, L);
      const log2ceil = Math.ceil(Math.log2(L));
      const P = 2 ** log2ceil;
      const stats: ScanStats = { combines: -1, depth: -1 };
      linearScan(t1(a), t1(b), { algorithm: "sequential", stats });
      expect(stats).toEqual({ combines: L - 1, depth: L - 1 });
      linearScan(t1(a), t1(b), { algorithm: "hillis-steele", stats });
      let hs = 0;
      for (let s = 1; s < L; s *= 2) hs += L - s;
      expect(stats).toEqual({ combines: hs, depth: log2ceil });
      linearScan(t1(a), t1(b), { algorithm: "blelloch", stats });
      expect(stats).toEqual({ combines: 2 * (P - 1), depth: 2 * log2ceil });
      for (const T of [1, 3, 8]) {
        linearScan(t1(a), t1(b), { algorithm: "chunked", chunkSize: T, stats });
        const C = Math.ceil(L / T);
        const first = Math.min(T, L);
        expect(stats).toEqual({
          combines: L - C + (C - 1) + (L - first - (C - 1)),
          depth: first - 1 + (C - 1) + (C > 1 ? 1 : 0),
        });
      }
    }
  });

  it("sums work over sequences in a batch", () => {
    const stats: ScanStats = { combines: 0, depth: 0 };
    const data = new Float64Array(4 * 8).fill(0.5);
    linearScan(
      { shape: [4, 8], data },
      { shape: [4, 8], data },
      { algorithm: "hillis-steele", stats },
    );
    expect(stats).toEqual({ combines: 4 * (7 + 6 + 4), depth: 3 });
  });

  for (const algorithm of SCAN_ALGORITHMS) {
    it(`${algorithm} with reverse: true solves h_t = a_t h_{t+1} + b_t (closed form from the end, < 1e-12)`, () => {
      const rng = new Rng(15);
      for (const L of lengths) {
        const rows = 2;
        const a = new Float64Array(rows * L);
        const b = new Float64Array(rows * L);
        for (let r = 0; r < rows; r++) {
          const s = randomRecurrence(rng, L);
          a.set(s.a, r * L);
          b.set(s.b, r * L);
        }
        const h = linearScan(
          { shape: [rows, L], data: a },
          { shape: [rows, L], data: b },
          { algorithm, reverse: true },
        );
        for (let r = 0; r < rows; r++) {
          // h_t = Σ_{s>=t} (a_t ··· a_{s-1}) b_s, h_L = 0
          const want = new Float64Array(L);
          for (let t = 0; t < L; t++) {
            let sum = 0;
            for (let s2 = t; s2 < L; s2++) {
              let p = 1;
              for (let q = t; q < s2; q++) p *= a[r * L + q];
              sum += p * b[r * L + s2];
            }
            want[t] = sum;
          }
          expect(relErr(h.data.subarray(r * L, (r + 1) * L), want)).toBeLessThan(1e-12);
        }
      }
    });
  }

  it("reverse: true is the adjoint: it gives the gradient of a loss through the forward scan (finite differences)", () => {
    // loss = Σ_t w_t h_t with h the forward scan; ∂loss/∂b_s = λ_s, λ_t = a_{t+1} λ_{t+1} + w_t.
    const rng = new Rng(16);
    const L = 40;
    const { a, b } = randomRecurrence(rng, L);
    const w = Float64Array.from({ length: L }, () => rng.normal());
    const loss = (bb: Float64Array) => {
      const h = linearScan(t1(a), t1(bb)).data;
      let sum = 0;
      for (let t = 0; t < L; t++) sum += w[t] * h[t];
      return sum;
    };
    const shifted = Float64Array.from({ length: L }, (_, t) => (t + 1 < L ? a[t + 1] : 0));
    for (const algorithm of SCAN_ALGORITHMS) {
      const lambda = linearScan(t1(shifted), t1(w), { algorithm, reverse: true }).data;
      const eps = 1e-6;
      for (let s = 0; s < L; s++) {
        const up = Float64Array.from(b);
        const down = Float64Array.from(b);
        up[s] += eps;
        down[s] -= eps;
        const fd = (loss(up) - loss(down)) / (2 * eps);
        expect(Math.abs(lambda[s] - fd)).toBeLessThan(1e-7 * (1 + Math.abs(fd)));
      }
    }
  });

  it("rejects bad input with errors that name the argument", () => {
    const a = t1(new Float64Array([1, 2]));
    expect(() => linearScan(a, a, { reverse: "yes" } as never)).toThrow(
      /linearScan: argument 'options.reverse'/,
    );
    expect(() => linearScan(a, t1(new Float64Array(3)))).toThrow(/linearScan: argument 'b'/);
    expect(() => linearScan(a, a, { algorithm: "quick" as never })).toThrow(/algorithm/);
    expect(() => linearScan(a, a, { algorithm: "blelloch", chunkSize: 2 })).toThrow(/chunkSize/);
    expect(() => linearScan(a, a, { algorithm: "chunked", chunkSize: 0 })).toThrow(/chunkSize/);
    expect(() => linearScan(t1(new Float64Array([1, Infinity])), a)).toThrow(
      /linearScan: argument 'a'/,
    );
    expect(() => linearScan(a, a, { speed: 1 } as never)).toThrow(
      /linearScan: argument 'options' must be .*\(got an unknown key "speed"/,
    );
    expect(() => linearScan({ shape: [], data: new Float64Array(1) }, a)).toThrow(
      /at least one axis/,
    );
  });
});

describe("Blelloch up-sweep and down-sweep", () => {
  it("leave the exclusive scan (the identity first), for every power-of-two length", () => {
    const rng = new Rng(21);
    for (const P of [1, 2, 4, 8, 32]) {
      const { a, b } = randomRecurrence(rng, P);
      const A = Array.from(a);
      const B = Array.from(b);
      blellochUpSweep(A, B);
      expect(B[P - 1]).toBeCloseTo(recurrenceClosedForm(a, b)[P - 1], 12);
      blellochDownSweep(A, B);
      const incl = recurrenceClosedForm(a, b);
      expect(B[0]).toBe(0);
      expect(A[0]).toBe(1);
      for (let t = 1; t < P; t++) {
        expect(Math.abs(B[t] - incl[t - 1])).toBeLessThan(1e-12 * (1 + Math.abs(incl[t - 1])));
        let prod = 1;
        for (let s = 0; s < t; s++) prod *= a[s];
        expect(Math.abs(A[t] - prod)).toBeLessThan(1e-12);
      }
    }
  });

  it("reject lengths that are not powers of two, and mismatched arrays", () => {
    expect(() => blellochUpSweep([1, 1, 1], [0, 0, 0])).toThrow(/whose length is a power of two/);
    expect(() => blellochDownSweep([1, 1], [0])).toThrow(/blellochDownSweep: argument 'b'/);
    expect(() => blellochDownSweep([1, NaN], [0, 0])).toThrow(/finite/);
  });
});

describe("linearScanByCumprod (the unstable shortcut)", () => {
  it("is accurate on a short sequence", () => {
    const rng = new Rng(41);
    const L = 40;
    const a = Float64Array.from({ length: L }, () => rng.uniform(0.8, 0.95));
    const b = Float64Array.from({ length: L }, () => rng.normal());
    expect(relErr(linearScanByCumprod(t1(a), t1(b)).data, recurrenceClosedForm(a, b))).toBeLessThan(
      1e-10,
    );
  });

  it("breaks down once the cumulative product underflows (float32 by 1000 steps, float64 by 8000)", () => {
    const rng = new Rng(42);
    for (const [dtype, L] of [
      ["float32", 1000],
      ["float64", 8000],
    ] as const) {
      const a = new Float64Array(L).fill(0.9);
      const b = Float64Array.from({ length: L }, () => rng.normal());
      const h = linearScanByCumprod(t1(a), t1(b), { dtype }).data;
      const good = linearScan(t1(a), t1(b)).data;
      expect(Number.isFinite(h[L - 1])).toBe(false);
      expect(Number.isFinite(good[L - 1])).toBe(true);
    }
  });

  it("rejects non-vectors", () => {
    const m = { shape: [2, 2], data: new Float64Array(4) };
    expect(() => linearScanByCumprod(m, m)).toThrow(/linearScanByCumprod: argument 'a'/);
  });
});
