/**
 * The selective scan: the recurrence at the heart of Mamba's S6 layer, with the argument layouts and
 * semantics of Mamba's reference implementation (`selective_scan_ref`).
 *
 * For every batch element b, channel d and state index n, starting from x = 0:
 *
 *   Δ[b,d,l]   = softplus(delta[b,d,l] + deltaBias[d])      (bias and softplus optional)
 *   x[b,d,n]  ← exp(Δ[b,d,l] · A[d,n]) · x[b,d,n] + Δ[b,d,l] · B[b,n,l] · u[b,d,l]
 *   y[b,d,l]   = Σ_n x[b,d,n] · C[b,n,l]
 *   out[b,d,l] = (y[b,d,l] + D[d] · u[b,d,l]) · silu(z[b,d,l])  (D and z optional)
 *
 * This is zero-order-hold discretisation of A (Ā = exp(ΔA)) with Mamba's simplified B̄ = ΔB, done
 * per position because Δ, B and C change with the position.
 */
import { type Tensor, allocate, dtypeOf } from "../tensor";
import { checkSelectiveScanArgs } from "./scan-checks";
import { type ScanData, scanRecurrence } from "../ops/reference/forward";
import type { SelectiveScanShapes } from "../ops/reference/layout";

// The checks live in scan-checks.ts, the layouts in layout.ts; these names stay importable here.
export { checkInputDependentScanArgs, checkSelectiveScanArgs } from "./scan-checks";
export type { ScanMatrixLayout, SelectiveScanShapes } from "../ops/reference/layout";

/** Arguments of {@link selectiveScan} (names and layouts as in Mamba's `selective_scan_ref`). */
export interface SelectiveScanArgs {
  /** Input, (b, d, l). */
  u: Tensor;
  /** Raw step sizes, (b, d, l); Δ after the optional bias and softplus. */
  delta: Tensor;
  /** State matrix (diagonal per channel), (d, n); real. Mamba uses A = -exp(A_log) < 0. */
  A: Tensor;
  /** Input matrix: (b, n, l) input-dependent, (b, g, n, l) grouped, or (d, n) time-invariant. */
  B: Tensor;
  /** Output matrix: same layouts as B. */
  C: Tensor;
  /** Skip connection, (d): out += D[d] · u. */
  D?: Tensor | null;
  /** Gate, (b, d, l): out *= silu(z). */
  z?: Tensor | null;
  /** Added to delta before the softplus, (d). */
  deltaBias?: Tensor | null;
  /** Apply softplus to delta (+ bias). Default false, as in the reference. */
  deltaSoftplus?: boolean;
  /** Also return the final state x, (b, d, n). Default false. */
  returnLastState?: boolean;
}

/** What {@link selectiveScan} returns. */
export interface SelectiveScanResult {
  /** (b, d, l), same dtype as u. */
  out: Tensor;
  /** (b, d, n), same dtype as u; present when `returnLastState` was set. */
  lastState?: Tensor;
}

/**
 * The selective scan (S6 recurrence) with the semantics of Mamba's `selective_scan_ref`; see the
 * module comment for the equations.
 *
 * Shapes: u, delta, z (b, d, l); A (d, n); B, C (b, n, l), or grouped (b, g, n, l) where channel d
 * reads group ⌊d / (d_total / g)⌋, or time-invariant (d, n) (then B and C are the same at every
 * position, as in S4D); D, deltaBias (d). Returns out (b, d, l) and, with `returnLastState`,
 * lastState (b, d, n): the state after the last position.
 *
 * Precision: inputs may be float32 or float64 (mixed is fine); the recurrence always runs in
 * float64, and out and lastState take u's dtype (like the reference, which computes in float32
 * and casts back to u's dtype).
 *
 * Cost: O(b·d·l·n) time, O(n) scratch memory: nothing of size (b, d, l, n) is materialised. The
 * positions are processed one after another; lesson 07 makes this a parallel scan.
 */
export function selectiveScan(args: SelectiveScanArgs): SelectiveScanResult {
  return selectiveScanRaw(args, checkSelectiveScanArgs("selectiveScan", args));
}

/** {@link selectiveScan} on arguments the caller has checked, with their sizes and layouts. */
export function selectiveScanRaw(
  args: SelectiveScanArgs,
  shapes: SelectiveScanShapes,
): SelectiveScanResult {
  const { batch, dim, length, dstate } = shapes;
  const dtype = dtypeOf(args.u);
  const out = allocate(dtype, batch * dim * length);
  const last = args.returnLastState ? allocate(dtype, batch * dim * dstate) : null;
  scanRecurrence(scanData(args), shapes, out, null, last);
  const result: SelectiveScanResult = { out: { shape: [batch, dim, length], data: out } };
  if (last) result.lastState = { shape: [batch, dim, dstate], data: last };
  return result;
}

/** The data of a {@link SelectiveScanArgs}. */
export function scanData(args: SelectiveScanArgs): ScanData {
  return {
    u: args.u.data,
    delta: args.delta.data,
    A: args.A.data,
    B: args.B.data,
    C: args.C.data,
    D: args.D ? args.D.data : null,
    z: args.z ? args.z.data : null,
    bias: args.deltaBias ? args.deltaBias.data : null,
    softplus: args.deltaSoftplus === true,
  };
}
