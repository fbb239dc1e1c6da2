/**
 * Mamba-2's SSD op on the simd backend, as the selective scan it is a special case of (lesson 13):
 * per head h, h_t = exp(Δ_t A_h) h_{t−1} + Δ_t x_t B_tᵀ, y_t = h_t C_t + D_h x_t is Mamba-1's scan
 * on the head's P channels with
 *
 *   u = x (its channels),  Δ_e = Δ_h and D_e = D_h for each channel e of head h,
 *   A_{e,n} = A_h for every state n,  B, C = the head's group's (b, l, N),  no gate,
 *
 * so the scan's kernels (`./kernels.ts`, forward keeping chunk-boundary states, backward
 * recomputing inside chunks) run it, one group of heads at a time. The gradients come back per
 * channel and are summed over each head's channels (and states, for A).
 *
 * What it gives up: the scan takes an exponential per channel and state (E·N per position) where
 * SSD needs one per head (H per position), and it does not use the chunked form's products. It
 * needs Δ unclamped (`dtLimit` (0, ∞), the default: softplus is never below 0) and N within the
 * scan kernels' limit; the backend runs the reference SSD otherwise.
 */
import type { Tensor } from "../../tensor";
import type { Backend, ScanArgs, SsdArgs, SsdGradients } from "../backend";

/** Chunk length of the scan's recomputation in the backward pass. */
const CHUNK = 64;

/** Whether {@link ssdAsScan} computes `a` exactly (see the module comment). */
export function ssdFitsScan(a: SsdArgs, maxState: number): boolean {
  const [lo, hi] = a.dtLimit;
  return lo <= 0 && hi === Infinity && a.B.shape[2] / a.groups <= maxState;
}

/** The sizes of an SSD call. */
function dims(a: SsdArgs) {
  const [b, l, E] = a.x.shape;
  const H = a.A.data.length;
  const G = a.groups;
  const N = a.B.shape[2] / G;
  const P = E / H;
  return { b, l, E, H, G, N, P, Hg: H / G, Eg: E / G };
}

/** The scan arguments of group g (see the module comment), in `backend`'s memory. */
function groupScanArgs(backend: Backend, a: SsdArgs, g: number): ScanArgs {
  const { b, l, E, H, G, N, P, Hg, Eg } = dims(a);
  const rows = b * l;
  const u = backend.zeros([b, l, Eg], a.x);
  const delta = backend.zeros([b, l, Eg], a.x);
  const B = backend.zeros([b, l, N], a.x);
  const C = backend.zeros([b, l, N], a.x);
  for (let r = 0; r < rows; r++) {
    u.data.set(a.x.data.subarray(r * E + g * Eg, r * E + (g + 1) * Eg), r * Eg);
    B.data.set(a.B.data.subarray(r * G * N + g * N, r * G * N + (g + 1) * N), r * N);
    C.data.set(a.C.data.subarray(r * G * N + g * N, r * G * N + (g + 1) * N), r * N);
    for (let h = 0; h < Hg; h++)
      delta.data.fill(a.dt.data[r * H + g * Hg + h], r * Eg + h * P, r * Eg + (h + 1) * P);
  }
  const A = backend.zeros([Eg, N], a.x);
  const D = backend.zeros([Eg], a.x);
  const deltaBias = backend.zeros([Eg], a.x);
  for (let h = 0; h < Hg; h++) {
    const head = g * Hg + h;
    A.data.fill(a.A.data[head], h * P * N, (h + 1) * P * N);
    D.data.fill(a.D.data[head], h * P, (h + 1) * P);
    deltaBias.data.fill(a.dtBias.data[head], h * P, (h + 1) * P);
  }
  return { u, delta, A, B, C, D, z: null, deltaBias };
}

/** The SSD op (`Backend.ssd` without a state) by the scan; (b, l, E). */
export function ssdAsScan(backend: Backend, a: SsdArgs): Tensor {
  const { b, l, E, G, Eg } = dims(a);
  const y = backend.zeros([b, l, E], a.x);
  for (let g = 0; g < G; g++) {
    const yg = backend.selectiveScan(groupScanArgs(backend, a, g), null);
    for (let r = 0; r < b * l; r++)
      y.data.set(yg.data.subarray(r * Eg, (r + 1) * Eg), r * E + g * Eg);
  }
  return y;
}

/** The backward of {@link ssdAsScan} (`Backend.ssdBackward`): the scan forward again, then back. */
export function ssdAsScanBackward(backend: Backend, a: SsdArgs, grad: Tensor): SsdGradients {
  const { b, l, E, H, G, N, P, Hg, Eg } = dims(a);
  const rows = b * l;
  const dx = backend.zeros(a.x.shape, a.x);
  const ddt = backend.zeros(a.dt.shape, a.dt);
  const dA = backend.zeros(a.A.shape, a.A);
  const dB = backend.zeros(a.B.shape, a.B);
  const dC = backend.zeros(a.C.shape, a.C);
  const dD = backend.zeros(a.D.shape, a.D);
  const ddtBias = backend.zeros(a.dtBias.shape, a.dtBias);
  for (let g = 0; g < G; g++) {
    const args = groupScanArgs(backend, a, g);
    const { saved } = backend.selectiveScanTrain(args, { strategy: "recompute", chunkSize: CHUNK });
    const gg = backend.zeros([b, l, Eg], grad);
    for (let r = 0; r < rows; r++)
      gg.data.set(grad.data.subarray(r * E + g * Eg, r * E + (g + 1) * Eg), r * Eg);
    const d = backend.selectiveScanBackward(args, saved, gg);
    for (let r = 0; r < rows; r++) {
      dx.data.set(d.du.data.subarray(r * Eg, (r + 1) * Eg), r * E + g * Eg);
      dB.data.set(d.dB.data.subarray(r * N, (r + 1) * N), r * G * N + g * N);
      dC.data.set(d.dC.data.subarray(r * N, (r + 1) * N), r * G * N + g * N);
      for (let h = 0; h < Hg; h++) {
        let s = 0; // Δ_h reaches each of the head's channels: its gradient is their sum
        for (let p = 0; p < P; p++) s += d.ddelta.data[r * Eg + h * P + p];
        ddt.data[r * H + g * Hg + h] = s;
      }
    }
    for (let h = 0; h < Hg; h++) {
      const head = g * Hg + h;
      let sA = 0;
      let sD = 0;
      let sBias = 0;
      for (let k = h * P * N; k < (h + 1) * P * N; k++) sA += d.dA.data[k];
      for (let e = h * P; e < (h + 1) * P; e++) {
        sD += d.dD.data[e];
        sBias += d.ddeltaBias.data[e];
      }
      dA.data[head] = sA;
      dD.data[head] = sD;
      ddtBias.data[head] = sBias;
    }
  }
  return { dx, ddt, dA, dB, dC, dD, ddtBias };
}
