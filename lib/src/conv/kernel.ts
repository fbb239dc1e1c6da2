/**
 * The convolutional view of a discrete LTI state space model. Unrolling h_k = Ā h_{k-1} + B̄ x_k
 * from h_{-1} = 0 gives h_k = Σ_{j=0}^{k} Ā^j B̄ x_{k-j}, so
 *
 *   y_k = C h_k = Σ_{j=0}^{k} (C Ā^j B̄) x_{k-j} = (K * x)_k,   K = (C B̄, C Ā B̄, C Ā² B̄, …):
 *
 * the whole system is one causal convolution with the kernel K. K does not depend on x, which is
 * what lets an LTI SSM (S4) process all positions of a training sequence at once.
 */
import { type Tensor, allocate } from "../tensor";
import { checkArg, schema } from "../validate";
import { checkLtiSystem } from "../ssm/checks";

/**
 * The LTI kernel K_j = C Ā^j B̄ for j = 0 … L-1, computed as v_0 = B̄, v_{j+1} = Ā v_j,
 * K_j = C v_j in float64: O(L · N²) per channel.
 *
 * @param Abar (N, N), or (d, N, N) for a bank of d single-input single-output channels
 * @param Bbar (N, 1) or (N); (d, N, 1) or (d, N)
 * @param C (1, N) or (N); (d, 1, N) or (d, N)
 * @param L kernel length, an integer >= 0
 * @returns K of shape (L) for one system, (d, L) for d channels, in Abar's dtype
 */
export function ssmKernel(Abar: Tensor, Bbar: Tensor, C: Tensor, L: number): Tensor {
  const sys = checkLtiSystem("ssmKernel", Abar, Bbar, C);
  checkArg("ssmKernel", "L", L, schema.integer({ min: 0, max: 2 ** 28 }));
  const { d, n } = sys;
  const K = allocate(sys.dtype, d * L);
  let v = new Float64Array(n);
  let w = new Float64Array(n);
  for (let c = 0; c < d; c++) {
    const aOff = c * n * n;
    const vOff = c * n;
    for (let i = 0; i < n; i++) v[i] = sys.B[vOff + i];
    for (let j = 0; j < L; j++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += sys.C[vOff + i] * v[i];
      K[c * L + j] = s;
      if (j === L - 1) break;
      for (let i = 0; i < n; i++) {
        let t = 0;
        const ai = aOff + i * n;
        for (let k = 0; k < n; k++) t += sys.A[ai + k] * v[k];
        w[i] = t;
      }
      const tmp = v;
      v = w;
      w = tmp;
    }
  }
  return { shape: sys.banked ? [d, L] : [L], data: K };
}
