/**
 * The tests' own selective scan (Mamba's `selective_scan_ref` semantics: u, delta, z (b, d, l);
 * A (d, n); B, C (b, n, l), (b, g, n, l) or (d, n); D, deltaBias (d)), shared by the tests of
 * lib/src/selective/scan.ts and lib/src/selective/s6.ts.
 */
import type { Tensor } from "../../lib/src/tensor";
import { at } from "./reference";

/** The arguments of {@link referenceScan}: those of lib's `selectiveScan`, all float64-readable. */
export interface RefArgs {
  u: Tensor;
  delta: Tensor;
  A: Tensor;
  B: Tensor;
  C: Tensor;
  D?: Tensor | null;
  z?: Tensor | null;
  deltaBias?: Tensor | null;
  deltaSoftplus?: boolean;
}
/**
 * An independent float64 reference written differently from lib: it materialises Ā = exp(ΔA) and
 * ΔB·u as full (b, d, l, n) arrays first, indexes B and C through a lookup function, and only then
 * runs the recurrence.
 */
export function referenceScan(a: RefArgs): { out: Float64Array; last: Float64Array } {
  const [nb, nd, nl] = a.u.shape;
  const nn = a.A.shape[1];
  const matrix = (M: Tensor, b: number, d: number, n: number, l: number): number => {
    if (M.shape.length === 2) return at(M, d, n);
    if (M.shape.length === 3) return at(M, b, n, l);
    const groups = M.shape[1];
    return at(M, b, Math.floor((d * groups) / nd), n, l);
  };
  const sp = (x: number): number => (x > 30 ? x : Math.log(1 + Math.exp(x)));
  const dt = (b: number, d: number, l: number): number => {
    const v = at(a.delta, b, d, l) + (a.deltaBias ? at(a.deltaBias, d) : 0);
    return a.deltaSoftplus ? sp(v) : v;
  };
  const size = nb * nd * nl * nn;
  const dA = new Float64Array(size);
  const dBu = new Float64Array(size);
  const idx = (b: number, d: number, l: number, n: number): number =>
    ((b * nd + d) * nl + l) * nn + n;
  for (let b = 0; b < nb; b++)
    for (let d = 0; d < nd; d++)
      for (let l = 0; l < nl; l++)
        for (let n = 0; n < nn; n++) {
          dA[idx(b, d, l, n)] = Math.exp(dt(b, d, l) * at(a.A, d, n));
          dBu[idx(b, d, l, n)] = dt(b, d, l) * matrix(a.B, b, d, n, l) * at(a.u, b, d, l);
        }
  const out = new Float64Array(nb * nd * nl);
  const last = new Float64Array(nb * nd * nn);
  const x = new Float64Array(nb * nd * nn);
  for (let l = 0; l < nl; l++) {
    for (let b = 0; b < nb; b++)
      for (let d = 0; d < nd; d++) {
        let y = 0;
        for (let n = 0; n < nn; n++) {
          const s = (b * nd + d) * nn + n;
          x[s] = dA[idx(b, d, l, n)] * x[s] + dBu[idx(b, d, l, n)];
          y += x[s] * matrix(a.C, b, d, n, l);
        }
        if (a.D) y += at(a.u, b, d, l) * at(a.D, d);
        if (a.z) {
          const zz = at(a.z, b, d, l);
          y *= zz / (1 + Math.exp(-zz));
        }
        out[(b * nd + d) * nl + l] = y;
      }
  }
  last.set(x);
  return { out, last };
}
