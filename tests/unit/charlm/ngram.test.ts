/**
 * The Kneser-Ney character models (lib/src/charlm/ngram.ts) against a second implementation
 * written here straight from the definitions (strings, counting by scanning the text), and
 * against properties every language model must have.
 */
import { describe, expect, it } from "vitest";
import { Rng } from "../../../lib/src/index";
import {
  kneserNey,
  kneserNeyBitsPerChar,
  kneserNeyDistribution,
} from "../../../lib/src/charlm/ngram";

/** Interpolated Kneser-Ney from the definitions, on a string over the alphabet `chars`. */
function byDefinition(text: string, chars: string[], n: number) {
  const V = chars.length;
  const grams = (k: number): string[] =>
    Array.from({ length: Math.max(0, text.length - k + 1) }, (_, i) => text.slice(i, i + k));
  // c_k(g): raw counts for k = n, continuation counts (distinct left neighbours) below.
  const count = (g: string): number => {
    if (g.length === n) return grams(n).filter((x) => x === g).length;
    const lefts = new Set(
      grams(g.length + 1)
        .filter((x) => x.slice(1) === g)
        .map((x) => x[0]),
    );
    return lefts.size;
  };
  const discount = (k: number): number => {
    const distinct = [...new Set(grams(k))];
    const cs = distinct.map(count);
    const n1 = cs.filter((c) => c === 1).length;
    const n2 = cs.filter((c) => c === 2).length;
    return n1 + 2 * n2 > 0 ? n1 / (n1 + 2 * n2) : 0.5;
  };
  const p = (h: string, w: string): number => {
    const k = h.length + 1;
    const lower = k === 1 ? 1 / V : p(h.slice(1), w);
    const followers = chars.filter((x) => count(h + x) > 0);
    const total = chars.reduce((s, x) => s + count(h + x), 0);
    if (total === 0) return lower;
    const D = discount(k);
    return Math.max(count(h + w) - D, 0) / total + ((D * followers.length) / total) * lower;
  };
  return p;
}

describe("kneserNey", () => {
  const chars = ["a", "b", "c", "d"];
  const rng = new Rng(3);
  const text = Array.from({ length: 300 }, () => chars[Math.min(3, rng.int(5))]).join("");
  const ids = Int32Array.from(text, (ch) => chars.indexOf(ch));

  it("gives the probabilities of a second implementation written from the definitions", () => {
    for (const n of [1, 2, 3]) {
      const model = kneserNey(ids, 4, n);
      const p = byDefinition(text, chars, n);
      for (const t of [0, 1, 2, 5, 17, 120]) {
        const dist = kneserNeyDistribution(model, ids, t);
        const h = text.slice(Math.max(0, t - (n - 1)), t);
        chars.forEach((w, j) =>
          expect(Math.abs(dist[j] - p(h, w)), `n ${n} t ${t} ${w}`).toBeLessThan(1e-12),
        );
      }
    }
  });

  it("every next-character distribution sums to 1, for contexts seen and unseen", () => {
    const model = kneserNey(ids, 5, 4); // id 4 never occurs in training
    const probe = Int32Array.from([4, 4, 0, 1, 4, 2, 3, 3, 0]);
    for (let t = 0; t < probe.length; t++) {
      const dist = kneserNeyDistribution(model, probe, t);
      expect(Math.abs(dist.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-12);
      for (const v of dist) expect(v).toBeGreaterThan(0);
    }
  });

  it("learns a deterministic text: a trigram model is almost sure of it, a unigram model is not", () => {
    const cycle = Int32Array.from({ length: 3000 }, (_, i) => i % 3);
    const held = Int32Array.from({ length: 300 }, (_, i) => (i + 1) % 3);
    expect(kneserNeyBitsPerChar(kneserNey(cycle, 3, 3), held)).toBeLessThan(0.01);
    expect(kneserNeyBitsPerChar(kneserNey(cycle, 3, 1), held)).toBeGreaterThan(1.5); // log₂ 3 = 1.58
  });

  it("refuses bad input, naming the function and the argument", () => {
    expect(() => kneserNey(ids, 4, 0)).toThrow(/kneserNey: argument 'order' must be an integer/);
    expect(() => kneserNey(ids, 3, 2)).toThrow(
      /kneserNey: argument 'train' must hold ids in \[0, 3\)/,
    );
    expect(() => kneserNey([0, 1] as never, 3, 2)).toThrow(/kneserNey: argument 'train'/);
    expect(() => kneserNeyBitsPerChar({} as never, ids)).toThrow(
      /kneserNeyBitsPerChar: argument 'model' must be a model from kneserNey/,
    );
    expect(() => kneserNeyBitsPerChar(kneserNey(ids, 4, 2), Int32Array.from([0]))).toThrow(
      /kneserNeyBitsPerChar: argument 'ids' must be an Int32Array of at least 2/,
    );
  });
});
