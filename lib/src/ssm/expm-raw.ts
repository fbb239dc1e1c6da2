/**
 * The matrix exponential behind expm.ts's public functions (scaling and squaring with Padé
 * approximants, Higham 2005; see expm.ts's module comment), on a row-major float64 A (n, n) the
 * caller has checked. Not exported from lib's index.
 */
import {
  SINGULAR_PIVOT_RATIO,
  eyeRaw,
  luRaw,
  luSolveRaw,
  matmulRaw,
  norm1Raw,
} from "../linalg/dense";

/** Padé coefficients b_0..b_m of p_m(x) = Σ b_j x^j for the degrees used (Higham 2005, §2). */
const PADE: Record<number, number[]> = {
  3: [120, 60, 12, 1],
  5: [30240, 15120, 3360, 420, 30, 1],
  7: [17297280, 8648640, 1995840, 277200, 25200, 1512, 56, 1],
  9: [17643225600, 8821612800, 2075673600, 302702400, 30270240, 2162160, 110880, 3960, 90, 1],
  13: [
    64764752532480000, 32382376266240000, 7771770303897600, 1187353796428800, 129060195264000,
    10559470521600, 670442572800, 33522128640, 1323241920, 40840800, 960960, 16380, 182, 1,
  ],
};

/** θ_m: the largest ‖A‖₁ for which r_m(A) is accurate to float64 without scaling (Higham, Table 2.3). */
const THETA: [number, number][] = [
  [3, 1.495585217958292e-2],
  [5, 2.53939833006323e-1],
  [7, 9.504178996162932e-1],
  [9, 2.097847961257068],
  [13, 5.371920351148152],
];

/** e^A for a row-major float64 A (n, n) that the caller has validated. */
export function expmRaw(a: ArrayLike<number>, n: number): Float64Array {
  return expmRawWithInfo(a, n).value;
}

/** e^A for a validated row-major A (n, n), with the Padé degree and squarings used. */
export function expmRawWithInfo(
  a: ArrayLike<number>,
  n: number,
): { value: Float64Array; norm1: number; degree: number; squarings: number } {
  if (n === 0) return { value: new Float64Array(0), norm1: 0, degree: 3, squarings: 0 };
  const a1 = norm1Raw(a, n, n);
  for (const [m, theta] of THETA.slice(0, 4)) {
    if (a1 <= theta)
      return { value: padeRaw(Float64Array.from(a), n, m), norm1: a1, degree: m, squarings: 0 };
  }
  const s = Math.max(0, Math.ceil(Math.log2(a1 / THETA[4][1])));
  const scale = 2 ** -s;
  const scaled = Float64Array.from(a, (v) => v * scale);
  let x = padeRaw(scaled, n, 13);
  for (let k = 0; k < s; k++) x = matmulRaw(x, x, n, n, n);
  return { value: x, norm1: a1, degree: 13, squarings: s };
}

/** r_m(A) = (V − U)⁻¹ (V + U) with U the odd and V the even part of p_m(A). */
function padeRaw(a: Float64Array, n: number, m: number): Float64Array {
  const b = PADE[m];
  const nn = n * n;
  const eye = eyeRaw(n);
  const mul = (x: Float64Array, y: Float64Array) => matmulRaw(x, y, n, n, n);
  const comb = (terms: [number, Float64Array][]): Float64Array => {
    const out = new Float64Array(nn);
    for (const [c, x] of terms) for (let i = 0; i < nn; i++) out[i] += c * x[i];
    return out;
  };
  const a2 = mul(a, a);
  let u: Float64Array;
  let v: Float64Array;
  if (m === 13) {
    const a4 = mul(a2, a2);
    const a6 = mul(a4, a2);
    const uInner = mul(
      a6,
      comb([
        [b[13], a6],
        [b[11], a4],
        [b[9], a2],
      ]),
    );
    u = mul(
      a,
      comb([
        [1, uInner],
        [b[7], a6],
        [b[5], a4],
        [b[3], a2],
        [b[1], eye],
      ]),
    );
    const vInner = mul(
      a6,
      comb([
        [b[12], a6],
        [b[10], a4],
        [b[8], a2],
      ]),
    );
    v = comb([
      [1, vInner],
      [b[6], a6],
      [b[4], a4],
      [b[2], a2],
      [b[0], eye],
    ]);
  } else {
    // Powers A^0, A^2, ..., A^{m-1}; U = A Σ b_{2j+1} A^{2j}, V = Σ b_{2j} A^{2j}.
    const powers: Float64Array[] = [eye, a2];
    for (let k = 4; k < m; k += 2) powers.push(mul(powers[powers.length - 1], a2));
    u = mul(a, comb(powers.map((p, j): [number, Float64Array] => [b[2 * j + 1], p])));
    v = comb(powers.map((p, j): [number, Float64Array] => [b[2 * j], p]));
  }
  const den = new Float64Array(nn);
  const num = new Float64Array(nn);
  for (let i = 0; i < nn; i++) {
    den[i] = v[i] - u[i];
    num[i] = v[i] + u[i];
  }
  const f = luRaw(den, n);
  // The scaling keeps ‖A‖₁ <= θ_m, where q_m(A) = V − U is well conditioned (Higham 2005, §3):
  // a singular denominator here is a bug, not a bad argument, so the message names no argument.
  if (!(f.pivotRatio > SINGULAR_PIVOT_RATIO)) {
    throw new Error(
      `matrix exponential: the Padé denominator q_${m}(A) is singular (smallest/largest LU pivot = ${f.pivotRatio.toExponential(2)}); this is a bug in lib`,
    );
  }
  return luSolveRaw(f, num, n);
}
