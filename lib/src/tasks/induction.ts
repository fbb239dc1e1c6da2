/**
 * The induction-heads task (Olsson et al. 2022; as used in the H3 and Mamba papers): after seeing
 * "A B … A", predict "B". Here A is a dedicated trigger token that occurs exactly twice: once at a
 * random position p, followed by the answer B, and once at the very end. The model must recall the
 * token that followed the first trigger.
 *
 * Layout of one example (V = vocabSize, l = length):
 *
 *   input  = c_0 … c_{p-1}  A  B  c_{p+2} … c_{l-2}  A     (A = V-1 at p and at l-1)
 *   target = [ B ]                                          (B = input[p + 1])
 *
 * so inputLength = l, targetLength = 1, targetStart = l - 1: the model's output at the final
 * trigger predicts B.
 *
 * Distribution (each example independent): p uniform on 0..l-3 (so B is never the final token);
 * every other token, B included, i.i.d. uniform on the content tokens 0..V-2.
 *
 * Draws from `rng`, per example, in this order: `p = rng.int(l - 2)`, then for t = 0..l-2 except
 * t = p, the content token `rng.int(V - 1)`.
 */
import type { Rng } from "../rng";
import { checkArg, schema } from "../validate";
import { inductionSet, inductionTokenIds } from "./assemble";
import { checkInductionOptions, checkRng } from "./checks";
import type { InductionOptions, InductionSet, InductionTokens } from "./types";

/** Token ids of the induction-heads task with vocabulary size V: content 0..V-2, trigger V-1. */
export function inductionTokens(vocabSize: number): InductionTokens {
  return inductionTokenIds(
    checkArg("inductionTokens", "vocabSize", vocabSize, schema.integer({ min: 3 })),
  );
}

/**
 * Induction heads (see the module comment for layout, distribution and draw order).
 *
 * @param rng the generator to draw from (consumed)
 * @param options count n, length l, vocabSize V
 * @returns inputs (n, l), targets (n, 1), triggerPositions (n), token ids in `tokens`
 */
export function inductionHeads(rng: Rng, options: InductionOptions): InductionSet {
  const fn = "inductionHeads";
  checkRng(fn, rng);
  const opts = checkInductionOptions(fn, options);
  const { count, length: l, vocabSize: V } = opts;
  const trigger = V - 1;
  const inputs = new Int32Array(count * l);
  const targets = new Int32Array(count);
  const triggerPositions = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const row = i * l;
    const p = rng.int(l - 2);
    for (let t = 0; t < l - 1; t++) inputs[row + t] = t === p ? trigger : rng.int(V - 1);
    inputs[row + l - 1] = trigger;
    triggerPositions[i] = p;
    targets[i] = inputs[row + p + 1];
  }
  return inductionSet(opts, inputs, targets, triggerPositions);
}
