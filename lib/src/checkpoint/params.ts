/**
 * A model's parameters from the tensors of a checkpoint file, checked against the shapes its
 * config implies: what every loader of a Hugging Face layout does after reading the files.
 */
import type { Tensor } from "../tensor";
import { firstNonFinite } from "../validate";

/** What {@link paramsFromTensors} needs to know about the checkpoint, for its checks and errors. */
export interface CheckpointLayout {
  /** Every parameter's name and shape, from the config. */
  shapes: Map<string, number[]>;
  /** The embedding's name; a stored tied head must equal it. */
  embedding: string;
  /** The head's name, absent from `shapes` when tied. */
  head: string;
  tied: boolean;
  /** The config.json path, and the config's sizes and switches, as errors quote them. */
  configPath: string;
  sizes: string;
  switches: string;
}

/**
 * The parameters of `layout.shapes` taken from `tensors` (a file's, by name). A tied head stored
 * in the file too is accepted when it equals the embedding and dropped. Refused with
 * `bad(problem)` (an error about the weights file): a missing tensor, a shape other than the
 * config's, a NaN or ±∞, a tensor the config has no place for, a stored tied head that differs
 * from the embedding.
 */
export function paramsFromTensors(
  tensors: Map<string, { shape: number[]; data: Float32Array }>,
  layout: CheckpointLayout,
  bad: (problem: string) => Error,
): Map<string, Tensor<Float32Array>> {
  const { shapes, configPath } = layout;
  if (layout.tied && tensors.has(layout.head)) {
    const head = tensors.get(layout.head)!.data;
    const emb = tensors.get(layout.embedding)?.data;
    if (!emb || head.length !== emb.length || head.some((v, i) => v !== emb[i]))
      throw bad(
        `tensor "${layout.head}" differs from the embedding, but ${configPath} says tie_word_embeddings: true`,
      );
  }
  const params = new Map<string, Tensor<Float32Array>>();
  for (const [name, shape] of shapes) {
    const t = tensors.get(name);
    if (!t) throw bad(`missing tensor "${name}" (shape [${shape.join(", ")}] from ${configPath})`);
    if (t.shape.length !== shape.length || t.shape.some((s, i) => s !== shape[i]))
      throw bad(
        `tensor "${name}" has shape [${t.shape.join(", ")}] but ${configPath} (${layout.sizes}) implies [${shape.join(", ")}]`,
      );
    const i = firstNonFinite(t.data);
    if (i >= 0) throw bad(`tensor "${name}" holds ${t.data[i]} at flat index ${i}`);
    params.set(name, { shape: t.shape, data: t.data });
  }
  for (const name of tensors.keys())
    if (!shapes.has(name) && !(layout.tied && name === layout.head))
      throw bad(`unexpected tensor "${name}" for ${configPath} (${layout.switches})`);
  return params;
}
