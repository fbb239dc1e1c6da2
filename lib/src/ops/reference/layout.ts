/**
 * Where the numbers of a selective scan's tensors sit in memory. One recurrence (`scan.ts`,
 * `scan-backward.ts`) serves two layouts:
 *
 * - channels first, Mamba's `selective_scan_ref`: u, delta, z, out (b, d, l); B, C (b, n, l),
 *   grouped (b, g, n, l) or time-invariant (d, n). The lessons' `selectiveScan` takes these.
 * - token-major, mamba-minimal's `selective_scan`: u, delta, z, out (b, l, d); B, C (b, l, n) or
 *   time-invariant (d, n). The models use this one: the projections produce (b, l, ·), so nothing
 *   is transposed.
 *
 * A layout resolves to strides: element (batch, channel, position) of u is at
 * `X.base(batch, channel) + position · X.lStride`, and element n of B at position l is at
 * `B.base(batch, channel) + n · B.nStride + l · B.lStride`.
 */

/** Strides of a per-channel sequence (u, delta, z, out). */
export interface SeqLayout {
  lStride: number;
  base: (batch: number, channel: number) => number;
}

/** How a B or C tensor is laid out, resolved into strides. */
export interface ScanMatrixLayout {
  /** "variable": one (n) vector per position; "grouped": per position and group; "time-invariant": (d, n). */
  kind: "variable" | "grouped" | "time-invariant";
  /** Number of groups g (1 unless grouped). */
  groups: number;
  nStride: number;
  lStride: number;
  base: (batch: number, channel: number) => number;
}

/** The sizes of a selective scan and the layouts of its tensors. */
export interface SelectiveScanShapes {
  batch: number;
  dim: number;
  length: number;
  dstate: number;
  /** u, delta, z and out. */
  X: SeqLayout;
  B: ScanMatrixLayout;
  C: ScanMatrixLayout;
}

/** u, delta, z, out as (b, d, l). */
export function channelsFirst(dim: number, length: number): SeqLayout {
  return { lStride: 1, base: (b, d) => (b * dim + d) * length };
}

/** B or C as (b, n, l): one matrix per position, shared by the channels. */
export function inputDependent(dstate: number, length: number): ScanMatrixLayout {
  return {
    kind: "variable",
    groups: 1,
    nStride: length,
    lStride: 1,
    base: (b) => b * dstate * length,
  };
}

/** B or C as (d, n): the same matrix at every position. */
export function timeInvariant(dstate: number): ScanMatrixLayout {
  return { kind: "time-invariant", groups: 1, nStride: 1, lStride: 0, base: (_b, d) => d * dstate };
}

/**
 * The token-major layout of the models: u, delta, z, out (b, l, d); B, C (b, l, n), or (d, n)
 * when `timeInvariantBC` (the LTI ablation).
 */
export function tokenMajorShapes(
  batch: number,
  length: number,
  dim: number,
  dstate: number,
  timeInvariantBC = false,
): SelectiveScanShapes {
  const BC: ScanMatrixLayout = timeInvariantBC
    ? timeInvariant(dstate)
    : {
        kind: "variable",
        groups: 1,
        nStride: 1,
        lStride: dstate,
        base: (b) => b * length * dstate,
      };
  return {
    batch,
    dim,
    length,
    dstate,
    X: { lStride: dim, base: (b, d) => b * length * dim + d },
    B: BC,
    C: BC,
  };
}
