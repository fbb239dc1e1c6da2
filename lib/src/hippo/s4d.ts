/**
 * Diagonal state space models (S4D, Gu et al. 2022, "On the Parameterization and Initialization
 * of Diagonal State Space Models") and their two simple initialisations.
 *
 * With a diagonal A = diag(a_0 … a_{N-1}), every state is its own one-dimensional system and the
 * zero-order-hold discretization is elementwise:
 *
 *   Ā_n = exp(Δ a_n),   B̄_n = (exp(Δ a_n) - 1) / a_n · B_n,
 *
 * so the convolution kernel K_k = Σ_n C_n B̄_n Ā_n^k costs O(N L) (a Vandermonde product) instead
 * of the O(N² L) of a dense Ā.
 *
 * Complex numbers. S4D-Lin has complex a_n. A complex diagonal system is stored as separate real
 * and imaginary parts (`Are`, `Aim`, each (N)); B and C may be complex the same way. As in S4D, the
 * N stored states stand for N conjugate pairs (a_n and its conjugate, with conjugate B_n and C_n),
 * so the kernel of the real system they define is K_k = 2 Re(Σ_n C_n B̄_n Ā_n^k). A real system
 * (no `Aim`) has K_k = Σ_n C_n B̄_n Ā_n^k.
 */
import type { Tensor } from "../tensor";
import { argumentError, checkArg, checkOptions, isAbsent, schema } from "../validate";
import { checkStep } from "../ssm/checks";

/** A diagonal SSM's A and B; complex when `Aim` (and optionally `Bim`) is present. All (N). */
export interface DiagonalSsm {
  Are: Tensor;
  Aim?: Tensor;
  B: Tensor;
  Bim?: Tensor;
}

/**
 * S4D-Real: a_n = -(n+1), B_n = 1 for n = 0 … N-1: the eigenvalues of HiPPO-LegS's A, without its
 * off-diagonal coupling. Mamba initialises A this way (stored as A_log = log(n+1)).
 *
 * @param N state size, >= 1
 * @returns `{ Are (N), B (N) }`, float64 (no `Aim`: the system is real)
 */
export function s4dReal(N: number): DiagonalSsm {
  checkArg("s4dReal", "N", N, STATE_SIZE);
  return {
    Are: { shape: [N], data: Float64Array.from({ length: N }, (_, n) => -(n + 1)) },
    B: { shape: [N], data: new Float64Array(N).fill(1) },
  };
}

/**
 * S4D-Lin: a_n = -1/2 + iπn, B_n = 1 for n = 0 … N-1: a constant decay rate and frequencies on a
 * linear grid, so the basis functions e^{t a_n} are damped Fourier modes (an approximation of
 * HiPPO-LegT's).
 *
 * @param N state size (number of conjugate pairs), >= 1
 * @returns `{ Are (N), Aim (N), B (N) }`, float64
 */
export function s4dLin(N: number): DiagonalSsm {
  checkArg("s4dLin", "N", N, STATE_SIZE);
  return {
    Are: { shape: [N], data: new Float64Array(N).fill(-0.5) },
    Aim: { shape: [N], data: Float64Array.from({ length: N }, (_, n) => Math.PI * n) },
    B: { shape: [N], data: new Float64Array(N).fill(1) },
  };
}

const STATE_SIZE = schema.integer({ min: 1, max: 1 << 20 });
const VECTOR = schema.tensor({ rank: 1, axes: ["N"] });
const DIAGONAL_SSM = schema.options(
  { Are: VECTOR, Aim: schema.optional(VECTOR), B: VECTOR, Bim: schema.optional(VECTOR) },
  "a diagonal SSM",
);
const OUTPUT_WEIGHTS = schema.options(
  { re: VECTOR, im: schema.optional(VECTOR) },
  "output weights",
);

/** A part (argument `name`, a checked vector or absent) of s4dKernel's input, of N entries. */
function part(name: string, v: Tensor | null | undefined, N: number): Float64Array | null {
  if (isAbsent(v)) return null;
  if (v.shape[0] !== N) {
    throw argumentError(
      "s4dKernel",
      name,
      `a tensor of shape [${N}] (N) to match ssm.Are (got shape [${v.shape.join(", ")}])`,
    );
  }
  return Float64Array.from(v.data);
}

/**
 * The ZOH-discretized convolution kernel of a diagonal SSM with output weights C:
 * K_k = Σ_n C_n B̄_n Ā_n^k (real system) or 2 Re(Σ_n C_n B̄_n Ā_n^k) (complex, conjugate pairs), for
 * k = 0 … L-1, with Ā_n = e^{Δ a_n} and B̄_n = (e^{Δ a_n} - 1)/a_n · B_n (→ Δ B_n as a_n → 0).
 * O(N L).
 *
 * @param ssm `{ Are, Aim?, B, Bim? }`, each (N), e.g. from {@link s4dReal} or {@link s4dLin}
 * @param C `{ re, im? }`, each (N)
 * @param dt step Δ > 0
 * @param L kernel length, >= 0
 * @returns K (L), float64
 */
export function s4dKernel(
  ssm: DiagonalSsm,
  C: { re: Tensor; im?: Tensor },
  dt: number,
  L: number,
): Tensor {
  const fn = "s4dKernel";
  const sys = checkOptions(fn, "ssm", ssm, DIAGONAL_SSM);
  const are = sys.Are!;
  const N = are.shape[0];
  const aim = part("ssm.Aim", sys.Aim, N);
  const bre = part("ssm.B", sys.B, N)!;
  const bim = part("ssm.Bim", sys.Bim, N);
  const c = checkOptions(fn, "C", C, OUTPUT_WEIGHTS);
  const cre = part("C.re", c.re, N)!;
  const cim = part("C.im", c.im, N);
  checkStep(fn, "dt", dt);
  checkArg(fn, "L", L, schema.integer({ min: 0, max: 1 << 28 }));
  const complex = aim !== null;
  const K = new Float64Array(L);
  for (let n = 0; n < N; n++) {
    const ar = are.data[n];
    const ai = aim ? aim[n] : 0;
    // Ā = e^{Δa}
    const mag = Math.exp(dt * ar);
    const abr = mag * Math.cos(dt * ai);
    const abi = mag * Math.sin(dt * ai);
    // (e^{Δa} - 1)/a, with the limit Δ as |Δa| → 0
    let gr: number;
    let gi: number;
    const den = ar * ar + ai * ai;
    if (dt * Math.sqrt(den) < 1e-8) {
      gr = dt;
      gi = 0;
    } else {
      const nr = Math.expm1(dt * ar) * Math.cos(dt * ai) - 2 * Math.sin((dt * ai) / 2) ** 2;
      const ni = mag * Math.sin(dt * ai);
      gr = (nr * ar + ni * ai) / den;
      gi = (ni * ar - nr * ai) / den;
    }
    // w = C B̄ = C g B
    const br = bre[n];
    const bi = bim ? bim[n] : 0;
    const cr = cre[n];
    const ci = cim ? cim[n] : 0;
    const gbr = gr * br - gi * bi;
    const gbi = gr * bi + gi * br;
    let wr = cr * gbr - ci * gbi;
    let wi = cr * gbi + ci * gbr;
    const factor = complex ? 2 : 1;
    for (let k = 0; k < L; k++) {
      K[k] += factor * wr;
      const t = wr * abr - wi * abi;
      wi = wr * abi + wi * abr;
      wr = t;
    }
  }
  return { shape: [L], data: K };
}
