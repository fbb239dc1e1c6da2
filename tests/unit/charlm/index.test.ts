/**
 * The character-level language model's data pipeline (lib/src/charlm/index.ts): the vocabulary and
 * the encode/decode round trip on Persuasion, the train/validation split and its windows, bits per
 * character. References: log2 V for uniform logits, log2-softmax computed by hand, the direct mean
 * over all windows.
 */
import { describe, expect, it } from "vitest";
import {
  Rng,
  bitsPerChar,
  bitsPerCharSum,
  charVocabulary,
  decodeChars,
  encodeChars,
  evaluateBitsPerChar,
  loadDatasetText,
  randomWindows,
  splitTrainValidation,
  validationWindows,
} from "../../../lib/src/index";
import type { Tensor } from "../../../lib/src/index";

const logits = (b: number, l: number, V: number, values: number[]): Tensor => ({
  shape: [b, l, V],
  data: Float64Array.from(values),
});

describe("character vocabulary", () => {
  it("is the sorted distinct characters, and encode/decode round-trips Persuasion", () => {
    const v = charVocabulary("banana!");
    expect(v.chars).toEqual(["!", "a", "b", "n"]);
    expect(Array.from(encodeChars(v, "nab!"))).toEqual([3, 1, 2, 0]);
    const text = loadDatasetText("austen-persuasion.txt");
    const vocab = charVocabulary(text);
    expect(vocab.chars.length).toBe(new Set(text).size);
    const ids = encodeChars(vocab, text);
    expect(ids.length).toBe(text.length);
    expect(decodeChars(vocab, ids)).toBe(text);
  });

  it("rejects characters outside the vocabulary and ids out of range, naming them", () => {
    const v = charVocabulary("abc");
    expect(() => encodeChars(v, "abd")).toThrow(
      /encodeChars: argument 'text' must be made of the vocabulary's characters \(got "d" at index 2\)/,
    );
    expect(() => decodeChars(v, [0, 3])).toThrow(
      /decodeChars: argument 'ids' must be ids in \[0, 3\) \(got 3 at index 1\)/,
    );
    expect(() => charVocabulary("")).toThrow(/charVocabulary: argument 'text'/);
  });
});

describe("train/validation split and windows", () => {
  const ids = Int32Array.from({ length: 1000 }, (_, i) => (i * 7) % 13);

  it("validation is the last fraction, train the rest, nothing shared", () => {
    const s = splitTrainValidation(ids, 0.1);
    expect(s.validationStart).toBe(900);
    expect(s.train.length + s.validation.length).toBe(1000);
    expect(Array.from(s.validation)).toEqual(Array.from(ids.slice(900)));
    expect(Array.from(s.train)).toEqual(Array.from(ids.slice(0, 900)));
  });

  it("random windows are substrings of the ids, targets the next character, seeded", () => {
    const w = randomWindows(ids, new Rng(4), 5, 16);
    expect(w.tokens.shape).toEqual([5, 16]);
    const text = Array.from(ids).join(",");
    for (let r = 0; r < 5; r++) {
      const t = Array.from(w.tokens.data.subarray(r * 16, (r + 1) * 16));
      const y = Array.from(w.targets.data.subarray(r * 16, (r + 1) * 16));
      expect(y.slice(0, 15)).toEqual(t.slice(1));
      // The window t ++ [last target] occurs in the ids.
      expect(text.includes([...t, y[15]].join(","))).toBe(true);
    }
    const again = randomWindows(ids, new Rng(4), 5, 16);
    expect(Array.from(again.tokens.data)).toEqual(Array.from(w.tokens.data));
  });

  it("validation windows predict every id after the first exactly once", () => {
    const val = ids.subarray(0, 65); // 64 targets = 4 windows of 16
    const w = validationWindows(val, 16);
    expect(w.tokens.shape).toEqual([4, 16]);
    expect(Array.from(w.targets.data)).toEqual(Array.from(val.subarray(1)));
    expect(Array.from(w.tokens.data)).toEqual(Array.from(val.subarray(0, 64)));
    expect(validationWindows(val, 16, 2).tokens.shape).toEqual([2, 16]);
    expect(() => validationWindows(val, 65)).toThrow(/validationWindows: argument 'context'/);
  });
});

describe("bits per character", () => {
  it("uniform logits cost log2 V bits per character", () => {
    const V = 75;
    const t = logits(2, 3, V, new Array(2 * 3 * V).fill(0.3));
    expect(bitsPerChar(t, [0, 5, 74, 1, 2, 3])).toBeCloseTo(Math.log2(75), 12);
  });

  it("matches a hand computation, skips −100 targets", () => {
    // Logits (0, ln 3): softmax (1/4, 3/4): target 0 costs 2 bits, target 1 costs log2(4/3).
    const t = logits(1, 3, 2, [0, Math.log(3), 0, Math.log(3), 5, 5]);
    const expected = (2 + Math.log2(4 / 3)) / 2;
    expect(bitsPerChar(t, [0, 1, -100])).toBeCloseTo(expected, 12);
    expect(bitsPerCharSum(t, [0, 1, 0]).count).toBe(3);
    expect(bitsPerCharSum(t, [0, 1, 0]).bits).toBeCloseTo(2 + Math.log2(4 / 3) + 1, 12);
    // Large logits do not overflow (the maximum is subtracted).
    const big = logits(1, 1, 2, [1000, 1000 + Math.log(3)]);
    expect(bitsPerChar(big, [0])).toBeCloseTo(2, 10);
    expect(() => bitsPerChar(t, [0, 2, 0])).toThrow(
      /bitsPerChar: argument 'targets' must be ids in \[0, 2\) or −100 \(got 2 at index 1\)/,
    );
  });

  it("evaluateBitsPerChar does not depend on the batch size and equals the direct mean", () => {
    // A bigram "model": logits of the next character = row `id` of a fixed table.
    const V = 5;
    const rng = new Rng(11);
    const table = Array.from({ length: V }, () => Array.from({ length: V }, () => rng.normal()));
    const forward = (tok: { shape: [number, number]; data: Int32Array }): Tensor => {
      const [b, l] = tok.shape;
      const out = new Float64Array(b * l * V);
      tok.data.forEach((id, i) => out.set(table[id], i * V));
      return { shape: [b, l, V], data: out };
    };
    const ids = Int32Array.from({ length: 101 }, () => rng.int(V));
    const set = validationWindows(ids, 10);
    // Direct float64 formula over consecutive pairs (ids[i], ids[i+1]).
    let bits = 0;
    for (let i = 0; i < 100; i++) {
      const row = table[ids[i]];
      const lse = Math.log(row.reduce((s, x) => s + Math.exp(x), 0));
      bits += (lse - row[ids[i + 1]]) / Math.LN2;
    }
    for (const batch of [1, 3, 10, 64]) {
      expect(evaluateBitsPerChar(forward, set, batch)).toBeCloseTo(bits / 100, 12);
    }
  });
});
