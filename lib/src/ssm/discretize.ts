/**
 * Discretization: from the continuous SSM h'(t) = A h(t) + B x(t) to the recurrence
 *
 *   h_k = Ā h_{k-1} + B̄ x_k,
 *
 * where x_k is the input held over the step (t_{k-1}, t_k] of length Δ and h_k ≈ h(t_k).
 *
 * | method       | Ā                         | B̄                              | accuracy                 |
 * |--------------|---------------------------|--------------------------------|--------------------------|
 * | `"euler"`    | I + ΔA                    | ΔB                             | order 1                  |
 * | `"bilinear"` | (I − Δ/2·A)⁻¹ (I + Δ/2·A) | (I − Δ/2·A)⁻¹ ΔB               | order 2                  |
 * | `"zoh"`      | e^{ΔA}                    | ∫₀^Δ e^{As} ds · B             | exact for x held on steps |
 * | `"mamba"`    | e^{ΔA}                    | ΔB                             | order 1 in B̄ (Mamba's choice) |
 *
 * For ZOH, B̄ = (ΔA)⁻¹ (e^{ΔA} − I) ΔB when A is invertible; the dense version computes it for
 * any A (singular included) from one exponential of an augmented matrix (Van Loan 1978):
 *
 *   exp(Δ [[A, B], [0, 0]]) = [[Ā, B̄], [0, I]].
 *
 * dtype rule: every computation is float64; the results are float32 only when A (or a) and B are
 * both float32.
 */
import type { Tensor } from "../tensor";
import { argumentError, checkArg, schema } from "../validate";
import { checkSquare } from "../linalg/checks";
import { resultDType, withDType } from "../linalg/result";
import { checkStep } from "./checks";
import { type DiscretizationMethod, discreteStatesRaw, discretizeRaw } from "./discretize-raw";

export type { DiscretizationMethod } from "./discretize-raw";

/** Every {@link DiscretizationMethod}, for loops in lessons and tests. */
export const DISCRETIZATION_METHODS: readonly DiscretizationMethod[] = [
  "zoh",
  "bilinear",
  "euler",
  "mamba",
];

/** The discrete parameters of a recurrence h_k = Ā h_{k-1} + B̄ x_k. */
export interface Discretized {
  /** Ā: (n, n) for dense A, (n) (the diagonal) for diagonal A. */
  Abar: Tensor;
  /** B̄: same shape as B, (n, m) or (n). */
  Bbar: Tensor;
}

const METHOD = schema.oneOf(DISCRETIZATION_METHODS);
const ANY_TENSOR = schema.tensor();

/** Checks the argument `arg` (B or B̄) against n states: (n, m) or (n). Returns m. */
function checkInputMatrix(fn: string, arg: string, B: unknown, n: number): number {
  const b = checkArg(fn, arg, B, ANY_TENSOR);
  if (!(b.shape.length === 1 || b.shape.length === 2) || b.shape[0] !== n) {
    throw argumentError(
      fn,
      arg,
      `a tensor of shape [${n}, m] or [${n}] to match the ${n} states of A (got [${b.shape.join(", ")}])`,
    );
  }
  return b.shape.length === 2 ? b.shape[1] : 1;
}

/**
 * Discretizes h' = A h + B x with step Δ = `dt`: returns Ā (n, n) and B̄ (shape of B) of
 * h_k = Ā h_{k-1} + B̄ x_k, for A (n, n) and B (n, m) or (n). `method` is one of "zoh",
 * "bilinear", "euler", "mamba" (formulas in the module comment).
 */
export function discretize(
  A: Tensor,
  B: Tensor,
  dt: number,
  method: DiscretizationMethod,
): Discretized {
  const n = checkSquare("discretize", "A", A);
  const m = checkInputMatrix("discretize", "B", B, n);
  checkStep("discretize", "dt", dt);
  checkArg("discretize", "method", method, METHOD);
  const d = discretizeRaw(A.data, B.data, n, m, dt, method);
  if (d === null) {
    throw argumentError(
      "discretize",
      "A",
      `a matrix with I − Δ/2·A nonsingular, so that "bilinear" is defined (got I − Δ/2·A singular for dt = ${dt}: A has an eigenvalue near 2/dt)`,
    );
  }
  const { abar, bbar } = d;
  const dtype = resultDType(A, B);
  return { Abar: withDType([n, n], abar, dtype), Bbar: withDType([...B.shape], bbar, dtype) };
}

/**
 * (e^z − 1) / z, with its limit 1 at z = 0, accurate for small |z| through `Math.expm1`. It is the
 * factor in the ZOH input matrix of a scalar system: B̄ = Δ · φ₁(Δa) · B.
 */
export function phi1(z: number): number {
  return z === 0 ? 1 : Math.expm1(z) / z;
}

/**
 * {@link discretize} for a diagonal A = diag(a), a (n), with B (n, m) or (n). Each state is its
 * own scalar system, so every formula is elementwise (ā_i, then row i of B̄):
 * - zoh:      ā_i = e^{Δa_i},                  B̄_i· = Δ φ₁(Δa_i) B_i·,  φ₁(z) = (e^z − 1)/z
 * - bilinear: ā_i = (1 + Δa_i/2)/(1 − Δa_i/2), B̄_i· = Δ/(1 − Δa_i/2) B_i·
 * - euler:    ā_i = 1 + Δa_i,                  B̄_i· = Δ B_i·
 * - mamba:    ā_i = e^{Δa_i},                  B̄_i· = Δ B_i·
 * Returns Ā as its diagonal (n) and B̄ with B's shape.
 */
export function discretizeDiagonal(
  a: Tensor,
  B: Tensor,
  dt: number,
  method: DiscretizationMethod,
): Discretized {
  const fn = "discretizeDiagonal";
  const av = checkArg(fn, "a", a, schema.tensor({ rank: 1, axes: ["n"] }));
  const n = av.shape[0];
  const m = checkInputMatrix(fn, "B", B, n);
  checkStep(fn, "dt", dt);
  checkArg(fn, "method", method, METHOD);
  const abar = new Float64Array(n);
  const bbar = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    const z = dt * av.data[i];
    let ai: number;
    let bi: number;
    switch (method) {
      case "zoh":
        ai = Math.exp(z);
        bi = dt * phi1(z);
        break;
      case "bilinear":
        if (1 - z / 2 === 0) {
          throw argumentError(
            fn,
            "a",
            `a diagonal with Δ·a_i ≠ 2, so that "bilinear" is defined (got Δ·a[${i}] = 2, which makes 1 − Δa/2 zero)`,
          );
        }
        ai = (1 + z / 2) / (1 - z / 2);
        bi = dt / (1 - z / 2);
        break;
      case "euler":
        ai = 1 + z;
        bi = dt;
        break;
      case "mamba":
        ai = Math.exp(z);
        bi = dt;
        break;
    }
    abar[i] = ai;
    for (let j = 0; j < m; j++) bbar[i * m + j] = bi * B.data[i * m + j];
  }
  const dtype = resultDType(av, B);
  return { Abar: withDType([n], abar, dtype), Bbar: withDType([...B.shape], bbar, dtype) };
}

/**
 * Runs the recurrence h_k = Ā h_{k-1} + B̄ x_k for k = 0..L−1 from h_{-1} = h0 (zeros by default).
 *
 * @param Abar Ā (n, n), or its diagonal (n) for a diagonal system
 * @param Bbar B̄ (n, m), or (n) for one input
 * @param x inputs (L, m), or (L) when m = 1
 * @param h0 initial state (n)
 * @returns the states h (L, n), float64
 */
export function discreteStates(Abar: Tensor, Bbar: Tensor, x: Tensor, h0?: Tensor): Tensor {
  const fn = "discreteStates";
  const A = checkArg(fn, "Abar", Abar, ANY_TENSOR);
  const diagonal = A.shape.length === 1;
  if (!diagonal) checkSquare(fn, "Abar", A);
  const n = A.shape[0];
  const m = checkInputMatrix(fn, "Bbar", Bbar, n);
  const xv = checkArg(fn, "x", x, ANY_TENSOR);
  const ok = (xv.shape.length === 2 && xv.shape[1] === m) || (xv.shape.length === 1 && m === 1);
  if (!ok) {
    throw argumentError(
      fn,
      "x",
      `a tensor of shape [L, ${m}]${m === 1 ? " or [L]" : ""} to match B̄'s ${m} inputs (got [${xv.shape.join(", ")}])`,
    );
  }
  const L = xv.shape[0];
  const h =
    h0 === undefined
      ? null
      : checkArg(fn, "h0", h0, schema.tensor({ shape: [n], axes: ["n"] })).data;
  const out = discreteStatesRaw(A.data, diagonal, Bbar.data, xv.data, n, m, L, h);
  return { shape: [L, n], data: out };
}
