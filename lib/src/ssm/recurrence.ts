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
import { type DType, type FloatArray, type Tensor, allocate, dtypeOf } from "../tensor";
import { assertFiniteNumber, assertTensor, describe } from "../validate";

/**
 * An LTI system, checked: the tensors' own data (not copies), row-major, so channel c's Ā starts
 * at A[c·N·N] and its B̄ and C at B[c·N], C[c·N].
 */
export interface LtiSystem {
  /** Channels: 1 for a SISO system given with rank-2 Ā. */
  d: number;
  /** State size. */
  n: number;
  /** True when Ā was given as (d, N, N), i.e. a bank of channels. */
  banked: boolean;
  A: FloatArray;
  B: FloatArray;
  C: FloatArray;
  /** Ā's dtype: the dtype results are returned in. */
  dtype: DType;
}

/**
 * Checks (Ā, B̄, C) against the layouts in the module comment and returns them flattened.
 * `fn` is the calling function's name, used in error messages.
 */
export function assertLtiSystem(fn: string, Abar: unknown, Bbar: unknown, C: unknown): LtiSystem {
  const a = assertTensor(`${fn}: Abar`, Abar);
  let d: number;
  let n: number;
  let banked: boolean;
  if (a.shape.length === 2) {
    [d, n, banked] = [1, a.shape[0], false];
    assertTensor(`${fn}: Abar`, a, { shape: [n, n], axes: ["N", "N"] });
  } else if (a.shape.length === 3) {
    [d, n, banked] = [a.shape[0], a.shape[1], true];
    assertTensor(`${fn}: Abar`, a, { shape: [d, n, n], axes: ["d", "N", "N"] });
  } else {
    throw new Error(
      `${fn}: argument 'Abar' must be a tensor of shape (N, N) for one system or (d, N, N) for d channels (got ${describe(Abar)})`,
    );
  }
  if (n < 1)
    throw new Error(
      `${fn}: argument 'Abar' must be a tensor with state size N >= 1 (got shape [${a.shape.join(", ")}])`,
    );
  const lead = banked ? [d] : [];
  const vector = (name: string, value: unknown, column: boolean): FloatArray => {
    const t = assertTensor(`${fn}: ${name}`, value);
    const s = t.shape;
    const matrix = column ? [...lead, n, 1] : [...lead, 1, n];
    const flat = [...lead, n];
    const same = (want: number[]): boolean =>
      s.length === want.length && s.every((v, i) => v === want[i]);
    if (!same(matrix) && !same(flat)) {
      const fmt = (w: number[]): string => `(${w.join(", ")})`;
      throw new Error(
        `${fn}: argument '${name}' must be a tensor of shape ${fmt(matrix)} or ${fmt(flat)} to match Abar [${a.shape.join(", ")}] (got [${s.join(", ")}])`,
      );
    }
    return t.data;
  };
  return {
    d,
    n,
    banked,
    A: a.data,
    B: vector("Bbar", Bbar, true),
    C: vector("C", C, false),
    dtype: dtypeOf(a),
  };
}

/**
 * How the rows of a sequence tensor x (…, l) map to channels: every row uses channel 0 of an
 * unbanked system (or kernel); with a bank of d channels, x must be (…, d, l) and row r uses
 * channel r mod d. Returns the row count and length.
 */
export function sequenceRows(
  fn: string,
  xName: string,
  x: Tensor,
  d: number,
  banked: boolean,
  what: string,
): { rows: number; l: number } {
  const r = x.shape.length;
  if (r < 1)
    throw new Error(
      `${fn}: argument '${xName}' must be a tensor with at least one axis (…, l) (got shape [])`,
    );
  if (banked && (r < 2 || x.shape[r - 2] !== d)) {
    throw new Error(
      `${fn}: argument '${xName}' must be a tensor of shape (…, d, l) with d = ${d} to match the ${d} channels of ${what} (got [${x.shape.join(", ")}])`,
    );
  }
  const l = x.shape[r - 1];
  return { rows: l === 0 ? 0 : x.data.length / l, l };
}

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
  const sys = assertLtiSystem("ssmRecurrence", Abar, Bbar, C);
  const xs = assertTensor("ssmRecurrence: x", x);
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
  const sys = assertLtiSystem("ssmStep", Abar, Bbar, C);
  if (sys.banked) {
    throw new Error(
      `ssmStep: argument 'Abar' must be a tensor holding one system (N, N) (got [${Abar.shape.join(", ")}])`,
    );
  }
  const n = sys.n;
  const hs = assertTensor("ssmStep: h", h, { shape: [n], axes: ["N"] });
  assertFiniteNumber("ssmStep: u", u);
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
