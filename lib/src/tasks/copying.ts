/**
 * The copying tasks of the S4 and Mamba papers.
 *
 * Plain copying: k data tokens at the start of a region of `length` tokens, noise after them, then
 * k marker tokens; the model must output the k data tokens, in order, at the marker positions. The
 * data always sit at the same distance from the answers, so a fixed delay (an LTI kernel) solves it.
 *
 * Selective copying: the same, but the k data tokens are scattered at random positions among the
 * noise. Solving it needs content-aware reasoning: remember the data tokens, ignore the noise
 * tokens, whatever their spacing. Time-invariant models fail at it; selective SSMs solve it.
 *
 * Layout of one example (V = vocabSize, k = numTokens):
 *
 *   input  = [ region of `length` tokens: noise 0 except k data tokens in 1..V-2 ] [ V-1 × k markers ]
 *   target = [ the k data tokens in order of position ]
 *
 * so inputLength = length + k, targetLength = k, targetStart = length.
 *
 * Distribution (each example independent): data tokens i.i.d. uniform on 1..V-2; in selective
 * copying, the set of k data positions is uniform among all k-subsets of 0..length-1.
 *
 * Draws from `rng`, per example, in this order (so that anyone can reproduce a set exactly):
 *   1. the k data tokens, each `1 + rng.int(V - 2)`;
 *   2. selective copying only: `rng.permutation(length)`, whose first k entries, sorted
 *      increasingly, are the data positions (plain copying uses positions 0..k-1).
 */
import type { Rng } from "../rng";
import { checkArg, schema } from "../validate";
import { copyingSet, copyingTokenIds } from "./assemble";
import { checkCopyingOptions, checkRng } from "./checks";
import type { CopyingOptions, CopyingSet, CopyingTokens } from "./types";

/** Token ids of a copying task with vocabulary size V: noise 0, data 1..V-2, marker V-1. */
export function copyingTokens(vocabSize: number): CopyingTokens {
  return copyingTokenIds(
    checkArg("copyingTokens", "vocabSize", vocabSize, schema.integer({ min: 3 })),
  );
}

/** Draws a (selective) copying set for a checked generator and options. */
function copyingRaw(r: Rng, opts: CopyingOptions, selective: boolean): CopyingSet {
  const { count, length, numTokens: k, vocabSize: V } = opts;
  const l = length + k;
  const inputs = new Int32Array(count * l);
  const targets = new Int32Array(count * k);
  const positions = new Int32Array(count * k);
  const pos = new Int32Array(k);
  for (let i = 0; i < count; i++) {
    const t0 = i * k;
    for (let j = 0; j < k; j++) targets[t0 + j] = 1 + r.int(V - 2);
    if (selective) {
      const perm = r.permutation(length);
      for (let j = 0; j < k; j++) pos[j] = perm[j];
      pos.sort();
    } else {
      for (let j = 0; j < k; j++) pos[j] = j;
    }
    const row = i * l;
    for (let j = 0; j < k; j++) {
      positions[t0 + j] = pos[j];
      inputs[row + pos[j]] = targets[t0 + j];
      inputs[row + length + j] = V - 1;
    }
  }
  return copyingSet(selective ? "selective-copying" : "copying", opts, inputs, targets, positions);
}

/**
 * Selective copying (see the module comment for layout, distribution and draw order).
 *
 * @param rng the generator to draw from (consumed)
 * @param options count n, length (data + noise region), numTokens k, vocabSize V
 * @returns inputs (n, length + k), targets (n, k), positions (n, k), token ids in `tokens`
 */
export function selectiveCopying(rng: Rng, options: CopyingOptions): CopyingSet {
  const fn = "selectiveCopying";
  return copyingRaw(checkRng(fn, rng), checkCopyingOptions(fn, options), true);
}

/**
 * Plain copying: like {@link selectiveCopying} but the data tokens always sit at positions
 * 0..k-1 (only the tokens are random). A fixed delay solves it.
 */
export function copying(rng: Rng, options: CopyingOptions): CopyingSet {
  return copyingRaw(checkRng("copying", rng), checkCopyingOptions("copying", options), false);
}
