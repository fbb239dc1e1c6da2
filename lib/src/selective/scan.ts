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
import { assertTensor, describe } from "../validate";
import { silu, softplus } from "./activations";

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

/** How a B or C tensor is laid out, resolved into strides (see {@link checkSelectiveScanArgs}). */
export interface ScanMatrixLayout {
  /** "variable": (b, n, l); "grouped": (b, g, n, l); "time-invariant": (d, n). */
  kind: "variable" | "grouped" | "time-invariant";
  /** Number of groups g (1 unless grouped). */
  groups: number;
  /** Flat index of element (batch, channel, n, l) is base(batch, channel) + n·nStride + l·lStride. */
  nStride: number;
  lStride: number;
  base: (batch: number, channel: number) => number;
}

/** Validated sizes of a selective scan's arguments. */
export interface SelectiveScanShapes {
  batch: number;
  dim: number;
  length: number;
  dstate: number;
  B: ScanMatrixLayout;
  C: ScanMatrixLayout;
}

const KNOWN_KEYS = new Set([
  "u",
  "delta",
  "A",
  "B",
  "C",
  "D",
  "z",
  "deltaBias",
  "deltaSoftplus",
  "returnLastState",
]);

/**
 * Checks the arguments of a selective scan (shapes relative to each other, dtypes, finite values,
 * option types, unknown keys) and returns their sizes and the layout of B and C. `fn` names the
 * calling function in error messages. Shared by every implementation of the scan, so that all of
 * them accept exactly the same inputs.
 */
export function checkSelectiveScanArgs(fn: string, args: unknown): SelectiveScanShapes {
  if (args === null || typeof args !== "object" || Array.isArray(args)) {
    throw new Error(
      `${fn}: expected an argument object { u, delta, A, B, C, D?, z?, deltaBias?, deltaSoftplus?, returnLastState? }, got ${describe(args)}`,
    );
  }
  const a = args as Record<string, unknown>;
  for (const key of Object.keys(a)) {
    if (!KNOWN_KEYS.has(key)) {
      throw new Error(
        `${fn}: unknown argument "${key}"; expected u, delta, A, B, C, D, z, deltaBias, deltaSoftplus, returnLastState`,
      );
    }
  }
  const dtypes = ["float32", "float64"] as const;
  const u = assertTensor(`${fn}: u`, a.u, { rank: 3, axes: ["b", "d", "l"], dtype: dtypes });
  const [batch, dim, length] = u.shape;
  assertTensor(`${fn}: delta`, a.delta, {
    shape: [batch, dim, length],
    axes: ["b", "d", "l"],
    dtype: dtypes,
  });
  const A = assertTensor(`${fn}: A`, a.A, { rank: 2, axes: ["d", "n"], dtype: dtypes });
  if (A.shape[0] !== dim) {
    throw new Error(
      `${fn}: argument 'A': expected shape [${dim}, n] (d, n) with d = ${dim} from u, got [${A.shape.join(", ")}]`,
    );
  }
  const dstate = A.shape[1];
  const layoutB = scanMatrixLayout(fn, "B", a.B, batch, dim, dstate, length);
  const layoutC = scanMatrixLayout(fn, "C", a.C, batch, dim, dstate, length);
  if (a.D !== undefined && a.D !== null) {
    assertTensor(`${fn}: D`, a.D, { shape: [dim], axes: ["d"], dtype: dtypes });
  }
  if (a.z !== undefined && a.z !== null) {
    assertTensor(`${fn}: z`, a.z, {
      shape: [batch, dim, length],
      axes: ["b", "d", "l"],
      dtype: dtypes,
    });
  }
  if (a.deltaBias !== undefined && a.deltaBias !== null) {
    assertTensor(`${fn}: deltaBias`, a.deltaBias, { shape: [dim], axes: ["d"], dtype: dtypes });
  }
  for (const flag of ["deltaSoftplus", "returnLastState"]) {
    if (a[flag] !== undefined && typeof a[flag] !== "boolean") {
      throw new Error(`${fn}: argument '${flag}' must be true or false, got ${describe(a[flag])}`);
    }
  }
  return { batch, dim, length, dstate, B: layoutB, C: layoutC };
}

/**
 * {@link checkSelectiveScanArgs} for the parallel implementations (fast CPU, gpu.js), which need
 * input-dependent B and C of shape (b, n, l) or (b, g, n, l) with the same number of groups: the
 * time-invariant (d, n) layout is an LTI system, better served by lesson 03's convolution.
 */
export function checkInputDependentScanArgs(fn: string, args: unknown): SelectiveScanShapes {
  const shapes = checkSelectiveScanArgs(fn, args);
  for (const which of ["B", "C"] as const) {
    if (shapes[which].kind === "time-invariant") {
      throw new Error(
        `${fn}: argument '${which}': the time-invariant layout (d, n) is not supported; pass (b, n, l) (or use selectiveScan)`,
      );
    }
  }
  if (shapes.B.groups !== shapes.C.groups) {
    throw new Error(
      `${fn}: argument 'C' must be the same number of groups as B (${shapes.B.groups}), got ${shapes.C.groups}`,
    );
  }
  return shapes;
}

function scanMatrixLayout(
  fn: string,
  name: string,
  value: unknown,
  batch: number,
  dim: number,
  dstate: number,
  length: number,
): ScanMatrixLayout {
  const t = assertTensor(`${fn}: ${name}`, value, { dtype: ["float32", "float64"] });
  const got = `[${t.shape.join(", ")}]`;
  const expected =
    `(b, n, l) = [${batch}, ${dstate}, ${length}], (b, g, n, l) = [${batch}, g, ${dstate}, ${length}] ` +
    `with g dividing d = ${dim}, or time-invariant (d, n) = [${dim}, ${dstate}]`;
  const s = t.shape;
  if (s.length === 2 && s[0] === dim && s[1] === dstate) {
    return {
      kind: "time-invariant",
      groups: 1,
      nStride: 1,
      lStride: 0,
      base: (_b, d) => d * dstate,
    };
  }
  if (s.length === 3 && s[0] === batch && s[1] === dstate && s[2] === length) {
    return {
      kind: "variable",
      groups: 1,
      nStride: length,
      lStride: 1,
      base: (b) => b * dstate * length,
    };
  }
  if (s.length === 4 && s[0] === batch && s[2] === dstate && s[3] === length) {
    const g = s[1];
    if (g >= 1 && dim % g === 0) {
      const perGroup = dim / g;
      return {
        kind: "grouped",
        groups: g,
        nStride: length,
        lStride: 1,
        base: (b, d) => (b * g + Math.floor(d / perGroup)) * dstate * length,
      };
    }
  }
  throw new Error(`${fn}: argument '${name}': expected shape ${expected}; got ${got}`);
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
  const shapes = checkSelectiveScanArgs("selectiveScan", args);
  const { batch, dim, length, dstate } = shapes;
  const u = args.u.data;
  const delta = args.delta.data;
  const A = args.A.data;
  const Bd = args.B.data;
  const Cd = args.C.data;
  const Dd = args.D ? args.D.data : null;
  const zd = args.z ? args.z.data : null;
  const bias = args.deltaBias ? args.deltaBias.data : null;
  const useSoftplus = args.deltaSoftplus === true;
  const dtype = dtypeOf(args.u);
  const out = allocate(dtype, batch * dim * length);
  const last = args.returnLastState ? allocate(dtype, batch * dim * dstate) : null;
  const x = new Float64Array(dstate);
  const { nStride: bn, lStride: bl } = shapes.B;
  const { nStride: cn, lStride: cl } = shapes.C;

  for (let b = 0; b < batch; b++) {
    for (let d = 0; d < dim; d++) {
      x.fill(0);
      const row = (b * dim + d) * length;
      const aRow = d * dstate;
      const bBase = shapes.B.base(b, d);
      const cBase = shapes.C.base(b, d);
      const db = bias ? bias[d] : 0;
      const skip = Dd ? Dd[d] : 0;
      for (let l = 0; l < length; l++) {
        let dt = delta[row + l] + db;
        if (useSoftplus) dt = softplus(dt);
        const ut = u[row + l];
        const dtu = dt * ut;
        let y = 0;
        for (let n = 0; n < dstate; n++) {
          const s = Math.exp(dt * A[aRow + n]) * x[n] + dtu * Bd[bBase + n * bn + l * bl];
          x[n] = s;
          y += s * Cd[cBase + n * cn + l * cl];
        }
        let o = y + skip * ut;
        if (zd) o *= silu(zd[row + l]);
        out[row + l] = o;
      }
      if (last) last.set(x, (b * dim + d) * dstate);
    }
  }
  const result: SelectiveScanResult = { out: { shape: [batch, dim, length], data: out } };
  if (last) result.lastState = { shape: [batch, dim, dstate], data: last };
  return result;
}
