/**
 * The loss every language model of the course trains on, and its gradients: the mean
 * cross-entropy of next-token predictions, run on any model written in `Ops` (`ops/tape.ts`).
 * One forward pass records a tape, the backend's cross-entropy gives ∂loss/∂logits, the tape runs
 * backward, and each parameter's gradient is read off by its checkpoint name.
 */
import type { Tensor } from "../tensor";
import { describe } from "../validate";
import type { Backend, ScanTraining } from "../ops/backend";
import { Ops, Tape } from "../ops/tape";
import { readTokens } from "./tokens";
import { alloc } from "../ops/reference/forward";

/** What a model's loss-and-gradients function returns (`mambaLossAndGrads`, `transformerLossAndGrads`). */
export interface LossAndGrads {
  /** Mean cross-entropy (nats) over the counted positions. */
  loss: number;
  /** ∂loss/∂θ for every parameter, same names, shapes and dtypes as `model.params`. */
  grads: Map<string, Tensor>;
  /** Counted positions and how many of them the arg-max prediction gets right. */
  count: number;
  correct: number;
}

/** How the arguments of a loss are named in errors (as the user wrote them). */
export interface LossArgNames {
  tokens: string;
  targets: string;
  mask: string;
}

/** The names of `mambaLossAndGrads(model, tokens, { targets, mask })`'s arguments. */
export const LOSS_ARGS: LossArgNames = {
  tokens: "tokens",
  targets: "options.targets",
  mask: "options.mask",
};

/**
 * The targets of a language-model loss, (b, l) flattened: `targets` when given (it must have the
 * tokens' shape; −100 = ignored), else the next token at positions 0..l−2 and −100 at l−1, as
 * Hugging Face's `labels = input_ids` shifts them. Shared by every model's loss and gradients.
 */
export function lossTargets(
  fn: string,
  targets: unknown,
  ids: Int32Array,
  b: number,
  l: number,
  vocab: number,
  names: LossArgNames = LOSS_ARGS,
): Int32Array {
  if (targets !== undefined && targets !== null) {
    const t = readTokens(fn, targets, vocab, names.targets, true);
    if (t.shape[0] !== b || t.shape[1] !== l)
      throw new Error(
        `${fn}: argument '${names.targets}' must be a (b, l) batch of shape [${b}, ${l}] like ${names.tokens} (got [${t.shape.join(", ")}])`,
      );
    return t.ids;
  }
  const next = new Int32Array(b * l).fill(-100);
  for (let i = 0; i < b; i++) for (let j = 0; j + 1 < l; j++) next[i * l + j] = ids[i * l + j + 1];
  return next;
}

/**
 * Checks a loss's `mask` option (b·l weights ≥ 0, or absent) and that the targets and mask leave
 * at least one position to count; `fn` is the function the user called.
 */
export function checkLossMask(
  fn: string,
  mask: unknown,
  targets: Int32Array,
  names: LossArgNames = LOSS_ARGS,
): ArrayLike<number> | null {
  const n = targets.length;
  let m: ArrayLike<number> | null = null;
  if (mask !== undefined && mask !== null) {
    const ok =
      (Array.isArray(mask) || (ArrayBuffer.isView(mask) && !(mask instanceof DataView))) &&
      (mask as ArrayLike<number>).length === n;
    if (!ok)
      throw new Error(
        `${fn}: argument '${names.mask}' must be an array of ${n} weights (one per position) (got ${describe(mask)})`,
      );
    m = mask as ArrayLike<number>;
    for (let p = 0; p < n; p++) {
      if (!(typeof m[p] === "number" && m[p] >= 0 && Number.isFinite(m[p])))
        throw new Error(
          `${fn}: argument '${names.mask}' must be an array of finite weights >= 0 (got ${describe(m[p])} at position ${p})`,
        );
    }
  }
  let total = 0;
  for (let p = 0; p < n; p++) if (targets[p] !== -100) total += m ? m[p] : 1;
  if (!(total > 0)) {
    throw new Error(
      `${fn}: argument '${names.tokens}' must leave at least one position with a target to score (got none: sequences of length 1 have no next token; pass ${names.targets}, or check ${names.mask})`,
    );
  }
  return m;
}

/**
 * The tape's setting for Mamba-1's selective scan, for a model that has none (the Transformer++,
 * Mamba-2, whose SSD op keeps nothing between forward and backward): never read.
 */
export const NO_SCAN: ScanTraining = { strategy: "store-all", chunkSize: 1 };

/**
 * The loss and gradients of the model `forward` writes (it maps an `Ops` to logits (b, l, V)) on
 * `backend`: forward recording a tape, cross-entropy against `targets` (b·l, −100 skipped)
 * weighted by `mask`, backward. Every parameter gets a gradient (zeros where none reached it),
 * in `params`' order, shapes and dtypes, on the JavaScript heap (copied out of the backend's
 * memory). Arguments are already checked.
 */
export function recordLossAndGrads(
  backend: Backend,
  scan: ScanTraining,
  params: Map<string, Tensor>,
  targets: Int32Array,
  mask: ArrayLike<number> | null,
  forward: (ops: Ops) => Tensor,
): LossAndGrads {
  backend.begin?.();
  const tape = new Tape(backend, scan);
  const logits = forward(new Ops(backend, tape));
  const ce = backend.crossEntropy(logits, targets, mask);
  tape.backward(logits, ce.dlogits);
  // copied out of the backend's memory, in the parameter's dtype
  const grads = new Map<string, Tensor>();
  for (const [name, p] of params) {
    const g = tape.grad(p);
    const out = alloc(p, p.data.length);
    if (g) out.set(g.data);
    grads.set(name, { shape: [...p.shape], data: out });
  }
  return { loss: ce.loss, grads, count: ce.count, correct: ce.correct };
}
