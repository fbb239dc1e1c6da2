/**
 * The recurrent view of a discrete linear time-invariant (LTI) state space model:
 *
 *   h_k = Ā h_{k-1} + B̄ x_k,   y_k = C h_k,   h_{-1} = 0,
 *
 * with a state h of N numbers, one input and one output per step. Run left to right it costs
 * O(N²) per step for a dense Ā (O(N) for a diagonal one) and keeps only the current state: the
 * way an SSM generates text one token at a time. `conv/kernel.ts` unrolls the same system into a
 * convolution kernel.
 *
 * Layouts. A single-input single-output (SISO) system is Ā (N, N), B̄ (N, 1) or (N), C (1, N) or
 * (N). A bank of d independent SISO systems (one per channel, as in S4) is Ā (d, N, N),
 * B̄ (d, N, 1) or (d, N), C (d, 1, N) or (d, N). Sequences run along the last axis of x.
 */
import { type FloatArray, type Tensor, allocate, dtypeOf } from "../tensor";
import { argumentError, checkArg, schema } from "../validate";
import { checkLtiSystem, sequenceRows } from "./checks";

/**
 * Runs the recurrence h_k = Ā h_{k-1} + B̄ x_k, y_k = C h_k from h_{-1} = 0 along the last axis
 * of x.
 *
 * @param Abar (N, N), or (d, N, N) for d channels
 * @param Bbar (N, 1) or (N); (d, N, 1) or (d, N)
 * @param C (1, N) or (N); (d, 1, N) or (d, N)
 * @param x (…, l) for one system (every row goes through it), (…, d, l) for d channels
 * @returns y with the shape and dtype of x. The state is stored in x's dtype after every step,
 *   so a float32 input sees float32 rounding in the state, as on a GPU. Cost O(rows · l · N²).
 */
export function ssmRecurrence(Abar: Tensor, Bbar: Tensor, C: Tensor, x: Tensor): Tensor {
  const sys = checkLtiSystem("ssmRecurrence", Abar, Bbar, C);
  const xs = checkArg("ssmRecurrence", "x", x, schema.tensor());
  const { rows, l } = sequenceRows("ssmRecurrence", "x", xs, sys.d, sys.banked, "Abar");
  const dtype = dtypeOf(xs);
  const y = allocate(dtype, xs.data.length);
  const n = sys.n;
  let h: FloatArray = allocate(dtype, n);
  let next: FloatArray = allocate(dtype, n);
  for (let row = 0; row < rows; row++) {
    const c = row % sys.d;
    const aOff = c * n * n;
    const vOff = c * n;
    h.fill(0);
    const base = row * l;
    for (let k = 0; k < l; k++) {
      const u = xs.data[base + k];
      let out = 0;
      for (let i = 0; i < n; i++) {
        let s = sys.B[vOff + i] * u;
        const ai = aOff + i * n;
        for (let j = 0; j < n; j++) s += sys.A[ai + j] * h[j];
        next[i] = s;
      }
      for (let i = 0; i < n; i++) out += sys.C[vOff + i] * next[i];
      const t = h;
      h = next;
      next = t;
      y[base + k] = out;
    }
  }
  return { shape: [...xs.shape], data: y };
}

/**
 * One step of the recurrence for a SISO system: h' = Ā h + B̄ u, y = C h'. This is all that
 * inference needs per token: O(N²) work and N numbers of memory, however long the history.
 *
 * @param Abar (N, N)
 * @param Bbar (N, 1) or (N)
 * @param C (1, N) or (N)
 * @param h the state (N)
 * @param u the input at this step
 * @returns `{ h: (N) float64, y }`
 */
export function ssmStep(
  Abar: Tensor,
  Bbar: Tensor,
  C: Tensor,
  h: Tensor,
  u: number,
): { h: Tensor; y: number } {
  const sys = checkLtiSystem("ssmStep", Abar, Bbar, C);
  if (sys.banked) {
    throw argumentError(
      "ssmStep",
      "Abar",
      `a tensor holding one system (N, N) (got [${Abar.shape.join(", ")}])`,
    );
  }
  const n = sys.n;
  const hs = checkArg("ssmStep", "h", h, schema.tensor({ shape: [n], axes: ["N"] }));
  checkArg("ssmStep", "u", u, schema.number());
  const out = new Float64Array(n);
  let y = 0;
  for (let i = 0; i < n; i++) {
    let s = sys.B[i] * u;
    for (let j = 0; j < n; j++) s += sys.A[i * n + j] * hs.data[j];
    out[i] = s;
    y += sys.C[i] * s;
  }
  return { h: { shape: [n], data: out }, y };
}
