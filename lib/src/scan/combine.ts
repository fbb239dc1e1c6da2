/**
 * The associative operator behind every parallel scan of a linear recurrence.
 *
 * The recurrence h_t = a_t · h_{t-1} + b_t applies, at each step, the affine map
 * f_t(h) = a_t · h + b_t. Running two steps is composing two such maps, and the composition of
 * affine maps is again affine:
 *
 *   f_2(f_1(h)) = a_2 · (a_1 · h + b_1) + b_2 = (a_1 · a_2) · h + (a_2 · b_1 + b_2).
 *
 * So a pair (a, b) describes any stretch of the recurrence, and the pair of a longer stretch is
 *
 *   (a_1, b_1) ∘ (a_2, b_2) = (a_1 · a_2, a_2 · b_1 + b_2)        (first the earlier stretch)
 *
 * Function composition is associative, hence so is ∘, and that is all a parallel scan needs. It is
 * NOT commutative: the earlier stretch must stay on the left. The identity element is (1, 0), the
 * map that leaves h alone. Starting from h_{-1} = 0, h_t is the b of (a_0, b_0) ∘ ... ∘ (a_t, b_t).
 */
import { argumentError, checkArg, describe, schema } from "../validate";

/** One element of a linear-recurrence scan: the affine map h ↦ a · h + b, as `[a, b]`. */
export type AffinePair = readonly [number, number];

const NUMBER = schema.number();

/** Checks the argument `arg`: a pair [a, b] of finite numbers. */
function checkPair(fn: string, arg: string, value: unknown): AffinePair {
  if (!Array.isArray(value) || value.length !== 2) {
    throw argumentError(fn, arg, `a pair [a, b] of finite numbers (got ${describe(value)})`);
  }
  checkArg(fn, `${arg}[0] (a)`, value[0], NUMBER);
  checkArg(fn, `${arg}[1] (b)`, value[1], NUMBER);
  return value as unknown as AffinePair;
}

/**
 * The scan operator (a_1, b_1) ∘ (a_2, b_2) = (a_1 · a_2, a_2 · b_1 + b_2): the pair of running the
 * stretch `first` and then the stretch `second` of h_t = a_t · h_{t-1} + b_t.
 *
 * @param first the earlier stretch [a_1, b_1]
 * @param second the later stretch [a_2, b_2]
 * @returns a new pair [a_1 · a_2, a_2 · b_1 + b_2]
 */
export function combine(first: AffinePair, second: AffinePair): [number, number] {
  const [a1, b1] = checkPair("combine", "first", first);
  const [a2, b2] = checkPair("combine", "second", second);
  return [a1 * a2, a2 * b1 + b2];
}

/**
 * Applies a pair to a state: (a, b) acting on h gives a · h + b. With h = h_{s-1} and the pair of
 * the stretch s..t, this is h_t.
 */
export function applyPair(pair: AffinePair, h: number): number {
  const [a, b] = checkPair("applyPair", "pair", pair);
  return a * checkArg("applyPair", "h", h, NUMBER) + b;
}
