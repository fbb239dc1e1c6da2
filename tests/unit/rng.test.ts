/**
 * The seeded generator Rng (lib/src/rng.ts): its stream against an independent xoshiro128** written
 * with BigInt arithmetic, its samplers against their distributions' moments (1e5 samples, 5
 * standard errors), permutations, fork, argument errors.
 */
import { describe, expect, it } from "vitest";
import { Rng } from "../../lib/src/rng";

const N = 100_000;

/**
 * An independent xoshiro128** (Blackman and Vigna), seeded by the same splitmix32-style expansion
 * as lib's Rng, written with BigInt arithmetic modulo 2^32 instead of Math.imul and >>>.
 */
function referenceStream(seed: number, count: number): number[] {
  const M = 0xffffffffn;
  const mul = (a: bigint, b: bigint): bigint => (a * b) & M;
  const rotl = (x: bigint, k: bigint): bigint => ((x << k) | (x >> (32n - k))) & M;
  let x = BigInt(seed >>> 0);
  const next = (): bigint => {
    x = (x + 0x9e3779b9n) & M;
    let z = x;
    z = mul(z ^ (z >> 16n), 0x85ebca6bn);
    z = mul(z ^ (z >> 13n), 0xc2b2ae35n);
    return z ^ (z >> 16n);
  };
  const s = [next(), next(), next(), next()];
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    out.push(Number(mul(rotl(mul(s[1], 5n), 7n), 9n)));
    const t = (s[1] << 9n) & M;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11n);
  }
  return out;
}

function meanVar(xs: ArrayLike<number>): { mean: number; variance: number } {
  let mean = 0;
  for (let i = 0; i < xs.length; i++) mean += xs[i];
  mean /= xs.length;
  let variance = 0;
  for (let i = 0; i < xs.length; i++) variance += (xs[i] - mean) ** 2;
  return { mean, variance: variance / (xs.length - 1) };
}

describe("Rng", () => {
  it("is xoshiro128** (checked against an independent BigInt implementation)", () => {
    for (const seed of [0, 1, 42, -7, 2 ** 31 - 1]) {
      const rng = new Rng(seed);
      const got = Array.from({ length: 50 }, () => rng.nextUint32());
      expect(got).toEqual(referenceStream(seed, 50));
    }
  });

  it("gives the same stream for the same seed and different streams for different seeds", () => {
    const draw = (seed: number): number[] => {
      const r = new Rng(seed);
      return [
        r.random(),
        r.normal(),
        r.int(1000),
        r.uniform(-3, 3),
        ...r.permutation(5),
        ...r.randn([3]).data,
      ];
    };
    expect(draw(123)).toEqual(draw(123));
    expect(draw(123)).not.toEqual(draw(124));
    const a = new Rng(1);
    const b = new Rng(2);
    let same = 0;
    for (let i = 0; i < 1000; i++) if (a.nextUint32() === b.nextUint32()) same++;
    expect(same).toBeLessThan(3);
  });

  it("uniform samples have mean 1/2 and variance 1/12 (1e5 samples, 5 standard errors)", () => {
    const rng = new Rng(11);
    const xs = Float64Array.from({ length: N }, () => rng.random());
    const { mean, variance } = meanVar(xs);
    // Standard errors: of the mean sqrt(1/12/N); of the variance sqrt((1/80 - 1/144)/N).
    expect(Math.abs(mean - 0.5)).toBeLessThan(5 * Math.sqrt(1 / 12 / N));
    expect(Math.abs(variance - 1 / 12)).toBeLessThan(5 * Math.sqrt((1 / 80 - 1 / 144) / N));
    expect(xs.every((v) => v >= 0 && v < 1)).toBe(true);
  });

  it("uniform(lo, hi) and rand stay in [lo, hi)", () => {
    const rng = new Rng(12);
    const t = rng.rand([1000], -2, 5, "float32");
    expect(t.shape).toEqual([1000]);
    expect(t.data).toBeInstanceOf(Float32Array);
    // float32 rounding may reach hi itself.
    expect(t.data.every((v) => v >= -2 && v <= 5)).toBe(true);
    const us = Array.from({ length: 1000 }, () => rng.uniform(3, 4));
    expect(us.every((v) => v >= 3 && v < 4)).toBe(true);
  });

  it("normal samples have mean 0 and std 1 (1e5 samples, 5 standard errors)", () => {
    const rng = new Rng(13);
    const t = rng.randn([N]);
    const { mean, variance } = meanVar(t.data);
    // Standard errors: of the mean 1/sqrt(N); of the std about 1/sqrt(2N).
    expect(Math.abs(mean)).toBeLessThan(5 / Math.sqrt(N));
    expect(Math.abs(Math.sqrt(variance) - 1)).toBeLessThan(5 / Math.sqrt(2 * N));
    // Tail mass beyond 2 sigma: 2 (1 - Phi(2)) = 0.0455; binomial standard error.
    const tail = t.data.filter((v) => Math.abs(v) > 2).length / N;
    expect(Math.abs(tail - 0.0455)).toBeLessThan(5 * Math.sqrt((0.0455 * 0.9545) / N));
  });

  it("normal(mean, std) shifts and scales", () => {
    const rng = new Rng(14);
    const xs = Float64Array.from({ length: N }, () => rng.normal(3, 0.5));
    const { mean, variance } = meanVar(xs);
    expect(Math.abs(mean - 3)).toBeLessThan(5 * (0.5 / Math.sqrt(N)));
    expect(Math.abs(Math.sqrt(variance) - 0.5)).toBeLessThan(5 * (0.5 / Math.sqrt(2 * N)));
  });

  it("int(n) covers 0..n-1 evenly (1e5 samples)", () => {
    const rng = new Rng(15);
    const n = 7;
    const counts = new Array<number>(n).fill(0);
    let bad = 0;
    for (let i = 0; i < N; i++) {
      const k = rng.int(n);
      if (Number.isInteger(k) && k >= 0 && k < n) counts[k]++;
      else bad++;
    }
    expect(bad).toBe(0);
    const expected = N / n;
    const sd = Math.sqrt(N * (1 / n) * (1 - 1 / n));
    for (const c of counts) expect(Math.abs(c - expected)).toBeLessThan(5 * sd);
    expect(new Rng(1).int(1)).toBe(0);
  });

  it("permutation returns every index once, and all orders of 3 about equally often", () => {
    const rng = new Rng(16);
    for (const n of [0, 1, 2, 10, 257]) {
      const p = rng.permutation(n);
      expect([...p].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
    }
    const counts = new Map<string, number>();
    const M = 60_000;
    for (let i = 0; i < M; i++) {
      const key = rng.permutation(3).join("");
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    expect(counts.size).toBe(6);
    const sd = Math.sqrt(M * (1 / 6) * (5 / 6));
    for (const c of counts.values()) expect(Math.abs(c - M / 6)).toBeLessThan(5 * sd);
  });

  it("fork gives a deterministic generator whose stream differs from the parent's", () => {
    const a = new Rng(17);
    const b = new Rng(17);
    const fa = a.fork();
    const fb = b.fork();
    const xs = Array.from({ length: 10 }, () => fa.random());
    expect(xs).toEqual(Array.from({ length: 10 }, () => fb.random()));
    expect(xs).not.toEqual(Array.from({ length: 10 }, () => a.random()));
  });

  it("rejects bad arguments, naming them", () => {
    expect(() => new Rng(1.5)).toThrow(/Rng: argument 'seed' must be an integer \(got 1.5\)/);
    expect(() => new Rng("1" as unknown as number)).toThrow(/Rng: argument 'seed'/);
    expect(() => new Rng(1).int(0)).toThrow(
      /Rng.int: argument 'n' must be an integer >= 1 \(got 0\)/,
    );
    expect(() => new Rng(1).int(2.5)).toThrow(/Rng.int: argument 'n'/);
    expect(() => new Rng(1).permutation(-1)).toThrow(/Rng.permutation: argument 'n'/);
  });
});
