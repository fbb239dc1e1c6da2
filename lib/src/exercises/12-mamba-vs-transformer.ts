/** Exercises of lesson 12-mamba-vs-transformer. */
import type { Exercise } from "./check";
import type { Rng } from "../rng";
import { llamaConfig } from "../transformer/config";
import { transformerCacheBytes } from "../transformer/kv-cache";

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
];
