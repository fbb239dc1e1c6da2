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
import { describe, assertOneOf, assertTensor, invalidArgument } from "../validate";
import { SINGULAR_PIVOT_RATIO, eyeRaw, luRaw, luSolveRaw } from "../linalg/dense";
import { checkSquare } from "../linalg/checks";
import { fromFloat64, resultDType } from "../linalg/matrix";
import { expmRaw } from "./expm";

/** How to discretize; see the module comment for the formulas. */
export type DiscretizationMethod = "zoh" | "bilinear" | "euler" | "mamba";

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

/** Checks a step size: a positive finite number. */
export function assertStep(name: string, dt: unknown): number {
  if (typeof dt !== "number" || !Number.isFinite(dt) || dt <= 0) {
    throw invalidArgument(name, `a positive finite number (got ${describe(dt)})`);
  }
  return dt;
}

/** Checks B against n states: (n, m) or (n). Returns m. */
function assertInputMatrix(fn: string, B: unknown, n: number): number {
  const b = assertTensor(`${fn}: B`, B);
  if (!(b.shape.length === 1 || b.shape.length === 2) || b.shape[0] !== n) {
    throw new Error(
      `${fn}: argument 'B' must be a tensor of shape [${n}, m] or [${n}] to match the ${n} states of A (got [${b.shape.join(", ")}])`,
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
  const m = assertInputMatrix("discretize", B, n);
  assertStep("discretize: dt", dt);
  assertOneOf("discretize: method", method, DISCRETIZATION_METHODS);
  const a = A.data;
  const b = B.data;
  let abar: Float64Array;
  let bbar: Float64Array;
  if (method === "zoh") {
    // Van Loan: exp(Δ [[A, B], [0, 0]]) = [[Ā, B̄], [0, I]].
    const k = n + m;
    const aug = new Float64Array(k * k);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) aug[i * k + j] = dt * a[i * n + j];
      for (let j = 0; j < m; j++) aug[i * k + n + j] = dt * b[i * m + j];
    }
    const e = expmRaw(aug, k);
    abar = new Float64Array(n * n);
    bbar = new Float64Array(n * m);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) abar[i * n + j] = e[i * k + j];
      for (let j = 0; j < m; j++) bbar[i * m + j] = e[i * k + n + j];
    }
  } else if (method === "bilinear") {
    // (I − Δ/2·A) Ā = I + Δ/2·A and (I − Δ/2·A) B̄ = ΔB, from one LU factorisation.
    const minus = eyeRaw(n);
    const plus = eyeRaw(n);
    for (let i = 0; i < n * n; i++) {
      minus[i] -= 0.5 * dt * a[i];
      plus[i] += 0.5 * dt * a[i];
    }
    const f = luRaw(minus, n);
    if (!(f.pivotRatio > SINGULAR_PIVOT_RATIO)) {
      throw new Error(
        `discretize: argument 'A': I − Δ/2·A is singular for dt = ${dt} (A has an eigenvalue near 2/dt), so "bilinear" is undefined`,
      );
    }
    abar = luSolveRaw(f, plus, n);
    bbar = luSolveRaw(
      f,
      Float64Array.from(b, (v) => dt * v),
      m,
    );
  } else {
    // Euler: Ā = I + ΔA; Mamba: Ā = e^{ΔA}. Both take B̄ = ΔB.
    bbar = Float64Array.from(b, (v) => dt * v);
    if (method === "euler") {
      abar = eyeRaw(n);
      for (let i = 0; i < n * n; i++) abar[i] += dt * a[i];
    } else {
      abar = expmRaw(
        Float64Array.from(a, (v) => dt * v),
        n,
      );
    }
  }
  const dtype = resultDType(A, B);
  return { Abar: fromFloat64([n, n], abar, dtype), Bbar: fromFloat64([...B.shape], bbar, dtype) };
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
  const av = assertTensor("discretizeDiagonal: a", a, { rank: 1, axes: ["n"] });
  const n = av.shape[0];
  const m = assertInputMatrix("discretizeDiagonal", B, n);
  assertStep("discretizeDiagonal: dt", dt);
  assertOneOf("discretizeDiagonal: method", method, DISCRETIZATION_METHODS);
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
          throw new Error(
            `discretizeDiagonal: argument 'a': Δ·a[${i}] = 2 makes (1 − Δa/2) zero, so bilinear is undefined`,
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
  return { Abar: fromFloat64([n], abar, dtype), Bbar: fromFloat64([...B.shape], bbar, dtype) };
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
  const A = assertTensor(`${fn}: Abar`, Abar);
  const diagonal = A.shape.length === 1;
  if (!diagonal) checkSquare(fn, "Abar", A);
  const n = A.shape[0];
  const m = assertInputMatrix(fn, Bbar, n);
  const xv = assertTensor(`${fn}: x`, x);
  const ok = (xv.shape.length === 2 && xv.shape[1] === m) || (xv.shape.length === 1 && m === 1);
  if (!ok) {
    throw new Error(
      `${fn}: argument 'x' must be a tensor of shape [L, ${m}]${m === 1 ? " or [L]" : ""} to match B̄'s ${m} inputs (got [${xv.shape.join(", ")}])`,
    );
  }
  const L = xv.shape[0];
  const out = new Float64Array(L * n);
  let prev = new Float64Array(n);
  if (h0 !== undefined) prev.set(assertTensor(`${fn}: h0`, h0, { shape: [n], axes: ["n"] }).data);
  const a = A.data;
  const b = Bbar.data;
  const xs = xv.data;
  for (let k = 0; k < L; k++) {
    // Row k of `out` is h_k; `prev` is h_{k-1}.
    const base = k * n;
    for (let i = 0; i < n; i++) {
      let v = 0;
      if (diagonal) v = a[i] * prev[i];
      else for (let j = 0; j < n; j++) v += a[i * n + j] * prev[j];
      for (let j = 0; j < m; j++) v += b[i * m + j] * xs[k * m + j];
      out[base + i] = v;
    }
    prev = out.subarray(base, base + n);
  }
  return { shape: [L, n], data: out };
}
