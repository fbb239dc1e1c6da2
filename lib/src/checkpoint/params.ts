/**
 * A model's parameters from the tensors of a checkpoint file, checked against the shapes its
 * config implies: what every loader of a Hugging Face layout does after reading the files.
 */
import type { Tensor } from "../tensor";
import type { Safetensors16Entry, SafetensorsEntry } from "./safetensors";
import { firstNonFinite } from "../validate";

/** The name of the output head in every Hugging Face `*ForCausalLM` layout. */
const HEAD = "lm_head.weight";

/** What {@link paramsFromTensors} needs to know about the checkpoint, for its checks and errors. */
export interface CheckpointLayout<C extends { tie_word_embeddings: boolean }> {
  /** The config read from `configPath`; `tie_word_embeddings` says if the head is the embedding. */
  config: C;
  configPath: string;
  /** Every parameter's name and shape, from the config (no `lm_head.weight` when tied). */
  shapes: Map<string, number[]>;
  /** The embedding's name; a stored tied head must equal it. */
  embedding: string;
  /** The config fields that size the tensors and those that decide which exist, for errors. */
  sizes: readonly (keyof C)[];
  switches: readonly (keyof C)[];
  /**
   * Whether a tied head that the file stores too is accepted when it equals the embedding (and
   * dropped), as some exports store it; when false it is refused as unexpected. Default true.
   */
  storedTiedHead?: boolean;
}

/** A tensor as a checkpoint file gives it: float32 values, or 16-bit patterns kept as stored. */
type CheckpointEntry = SafetensorsEntry | Safetensors16Entry;

/**
 * The parameters of `layout.shapes` taken from `tensors` (a file's, by name). A tied head stored
 * in the file too is accepted when it equals the embedding and dropped (unless
 * `layout.storedTiedHead` is false). Refused with `bad(problem)` (an error about the weights
 * file): a missing tensor, a shape other than the config's, a NaN or ±∞, a tensor the config has
 * no place for, a stored tied head that differs from the embedding. `keep`, when given, is
 * offered each tensor after its shape check and returns true for one it takes as stored (a
 * loader keeping weights in 16 bits; it checks their values), which is then left out of the
 * result; every other tensor must hold float32 data.
 */
export function paramsFromTensors<C extends { tie_word_embeddings: boolean }>(
  tensors: Map<string, CheckpointEntry>,
  layout: CheckpointLayout<C>,
  bad: (problem: string) => Error,
  keep?: (name: string, entry: CheckpointEntry) => boolean,
): Map<string, Tensor<Float32Array>> {
  const { config, shapes, configPath } = layout;
  const quote = (keys: readonly (keyof C)[]) =>
    keys.map((k) => `${String(k)} ${config[k]}`).join(", ");
  const storedTiedHead = config.tie_word_embeddings && layout.storedTiedHead !== false;
  if (storedTiedHead && tensors.has(HEAD)) {
    const head = values(tensors.get(HEAD))!;
    const emb = values(tensors.get(layout.embedding));
    if (!emb || head.length !== emb.length || head.some((v, i) => v !== emb[i]))
      throw bad(
        `tensor "${HEAD}" differs from the embedding, but ${configPath} says tie_word_embeddings: true`,
      );
  }
  const params = new Map<string, Tensor<Float32Array>>();
  for (const [name, shape] of shapes) {
    const t = tensors.get(name);
    if (!t) {
      const untied = name === HEAD ? ", which has tie_word_embeddings: false" : "";
      throw bad(
        `missing tensor "${name}" (shape [${shape.join(", ")}] from ${configPath}${untied})`,
      );
    }
    if (t.shape.length !== shape.length || t.shape.some((s, i) => s !== shape[i]))
      throw bad(
        `tensor "${name}" has shape [${t.shape.join(", ")}] but ${configPath} (${quote(layout.sizes)}) implies [${shape.join(", ")}]`,
      );
    if (keep?.(name, t)) continue;
    const data = (t as SafetensorsEntry).data;
    const i = firstNonFinite(data);
    if (i >= 0) throw bad(`tensor "${name}" holds ${data[i]} at flat index ${i}`);
    params.set(name, { shape: t.shape, data });
  }
  for (const name of tensors.keys())
    if (!shapes.has(name) && !(storedTiedHead && name === HEAD))
      throw bad(`unexpected tensor "${name}" for ${configPath} (${quote(layout.switches)})`);
  return params;
}

/** An entry's stored values, float32 or 16-bit patterns, for comparing two tensors. */
function values(e: CheckpointEntry | undefined): Float32Array | Uint16Array | undefined {
  return e && ("bits" in e ? e.bits : e.data);
}
