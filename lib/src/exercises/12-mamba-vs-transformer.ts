/** Exercises of lesson 12-mamba-vs-transformer. */
import type { Exercise } from "./check";
import type { Rng } from "../rng";
import { llamaConfig } from "../transformer/config";
import { transformerCacheBytes } from "../transformer/kv-cache";
import { bitsPerChar } from "../charlm/index";

/**
 * Bytes of a Transformer++ KV cache at a position, through lib's `transformerCacheBytes`:
 * 2 (keys and values) · layers · kvHeads · headDim · position · batch · 4 (float32 bytes).
 *
 * @param layers num_hidden_layers, kvHeads num_key_value_heads, headDim the width of one head,
 *   position the number of tokens cached, batch the number of sequences
 * @returns the bytes the cache holds
 */
export function kvCacheBytes(
  layers: number,
  kvHeads: number,
  headDim: number,
  position: number,
  batch: number,
): number {
  const config = llamaConfig({
    vocab_size: 2,
    intermediate_size: 8,
    hidden_size: kvHeads * headDim,
    num_attention_heads: kvHeads,
    num_key_value_heads: kvHeads,
    head_dim: headDim,
    num_hidden_layers: layers,
  });
  return transformerCacheBytes(config, position, batch);
}

/**
 * Mean bits per character of one sequence's logits, through lib's `bitsPerChar`:
 * (1 / l) Σ_t −log₂ softmax(logits[t])[targets[t]] = mean cross-entropy (nats) / ln 2.
 *
 * @param logits l rows of V numbers (the model's scores of the next character at each position)
 * @param targets l ids in [0, V) (the character that came next)
 */
export function bitsPerCharacter(logits: number[][], targets: number[]): number {
  const l = logits.length;
  const V = logits[0].length;
  return bitsPerChar({ shape: [1, l, V], data: Float64Array.from(logits.flat()) }, targets);
}

const logitRows = (rng: Rng, l: number, V: number, scale: number, offset = 0): number[][] =>
  Array.from({ length: l }, () => Array.from({ length: V }, () => offset + rng.normal(0, scale)));
const ids = (rng: Rng, l: number, V: number): number[] =>
  Array.from({ length: l }, () => rng.int(V));

export const mambaVsTransformerExercises: Exercise[] = [
  {
    id: "kv-cache-bytes",
    lesson: "12-mamba-vs-transformer",
    title:
      "the KV cache's size: 2 · layers · kvHeads · headDim · position · batch · 4 bytes (float32 keys and values)",
    hint:
      "every layer keeps one key and one value vector of headDim float32 numbers (4 bytes each) per KV head, per " +
      "cached position, per sequence of the batch; position 0 holds nothing",
    reference: kvCacheBytes as (...args: never[]) => unknown,
    cases: (rng: Rng) => [
      { label: "an empty cache", args: [2, 4, 16, 0, 1] },
      { label: "one token, one layer, one head of width 2", args: [1, 1, 2, 1, 1] },
      ...Array.from({ length: 5 }, (_, i) => {
        const layers = 1 + rng.int(24);
        const kvHeads = 1 + rng.int(8);
        const headDim = 2 * (1 + rng.int(64));
        const position = rng.int(100000);
        const batch = 1 + rng.int(8);
        return {
          label: `random model and position ${position} (${i + 1})`,
          args: [layers, kvHeads, headDim, position, batch],
        };
      }),
    ],
  },
  {
    id: "bits-per-char",
    lesson: "12-mamba-vs-transformer",
    title:
      "bits per character: the mean over positions of −log₂ softmax(logits[t])[targets[t]] (cross-entropy in nats / ln 2)",
    hint:
      "softmax(x)[y] = exp(x[y]) / Σ_v exp(x[v]); subtract max(x) before exp so large logits do not overflow; " +
      "−log₂ p = −ln p / ln 2; average over the positions. Equal logits over V characters cost log₂ V bits.",
    reference: bitsPerCharacter as (...args: never[]) => unknown,
    cases: (rng: Rng) => [
      { label: "equal logits over 4 characters (2 bits)", args: [[[0, 0, 0, 0]], [3]] },
      {
        label: "logits (0, ln 3): 2 bits and log₂(4/3) bits",
        args: [
          [
            [0, Math.log(3)],
            [0, Math.log(3)],
          ],
          [0, 1],
        ],
      },
      { label: "large logits (needs the max subtracted)", args: [[[1000, 1001, 999]], [1]] },
      ...Array.from({ length: 4 }, (_, i) => {
        const V = 2 + rng.int(80);
        const l = 1 + rng.int(20);
        return {
          label: `random logits, ${l} positions, vocabulary ${V} (${i + 1})`,
          args: [logitRows(rng, l, V, 1 + 3 * rng.random(), rng.normal(0, 5)), ids(rng, l, V)],
        };
      }),
    ],
  },
];
