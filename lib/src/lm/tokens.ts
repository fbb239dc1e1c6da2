/**
 * Token batches: what every language model of the course takes. A batch is (b, l) token ids,
 * either a tensor-like `{ shape: [b, l], data: Int32Array }` or nested arrays `number[][]`.
 */
import { argumentError, describe } from "../validate";

/** Token ids: a (b, l) tensor with Int32Array data, or number[][] (rows of equal length). */
export type TokenBatch = { shape: number[]; data: Int32Array } | number[][];

/**
 * Reads token ids into an Int32Array and [b, l], checking they lie in [0, vocab) (or are −100,
 * PyTorch's ignored label, when `ignorable`). `fn` is the function the user called and `arg` the
 * argument as the user wrote it ("tokens", "options.targets", ...).
 */
export function readTokens(
  fn: string,
  tokens: unknown,
  vocab: number,
  arg = "tokens",
  ignorable = false,
): { ids: Int32Array; shape: [number, number] } {
  let ids: Int32Array;
  let shape: [number, number];
  if (Array.isArray(tokens)) {
    const b = tokens.length;
    const l = b > 0 && Array.isArray(tokens[0]) ? tokens[0].length : 0;
    ids = new Int32Array(b * l);
    tokens.forEach((row, i) => {
      if (!Array.isArray(row) || row.length !== l) {
        throw new Error(
          `${fn}: argument '${arg}' must be number[][] with rows of equal length ${l} (got ${describe(row)} as row ${i})`,
        );
      }
      row.forEach((v, j) => {
        if (!Number.isInteger(v))
          throw new Error(
            `${fn}: argument '${arg}' must be a batch of integer ids (got ${describe(v)} at [${i}][${j}])`,
          );
        ids[i * l + j] = v;
      });
    });
    shape = [b, l];
  } else {
    const t = tokens as { shape?: unknown; data?: unknown } | null;
    if (
      t === null ||
      typeof t !== "object" ||
      !Array.isArray(t.shape) ||
      !(t.data instanceof Int32Array)
    ) {
      throw new Error(
        `${fn}: argument '${arg}' must be { shape: [b, l], data: Int32Array } or number[][] (got ${describe(tokens)})`,
      );
    }
    if (
      t.shape.length !== 2 ||
      !t.shape.every((n) => Number.isInteger(n) && n >= 0) ||
      t.shape[0] * t.shape[1] !== t.data.length
    ) {
      throw new Error(
        `${fn}: argument '${arg}' must be a tensor of shape [b, l] matching its ${t.data.length} ids (got shape [${t.shape.join(", ")}])`,
      );
    }
    ids = t.data;
    shape = [t.shape[0], t.shape[1]];
  }
  for (let i = 0; i < ids.length; i++) {
    if ((ids[i] < 0 || ids[i] >= vocab) && !(ignorable && ids[i] === -100)) {
      throw new Error(
        `${fn}: argument '${arg}' must be token ids in [0, ${vocab}) (vocab_size)${ignorable ? " or -100 (ignored)" : ""} (got ${ids[i]} at flat index ${i})`,
      );
    }
  }
  return { ids, shape };
}

/**
 * Checks a generate function's `prompt`: a non-empty number[] of token ids in [0, vocab). `fn`
 * is the function the user called.
 */
export function checkPrompt(
  fn: string,
  prompt: unknown,
  vocab: number,
): asserts prompt is number[] {
  if (!Array.isArray(prompt) || prompt.length === 0)
    throw argumentError(
      fn,
      "prompt",
      `a non-empty number[] of token ids (got ${describe(prompt)})`,
    );
  prompt.forEach((id, i) => {
    if (!Number.isInteger(id) || id < 0 || id >= vocab)
      throw argumentError(
        fn,
        "prompt",
        `token ids in [0, ${vocab}) (vocab_size) (got ${describe(id)} at index ${i})`,
      );
  });
}
