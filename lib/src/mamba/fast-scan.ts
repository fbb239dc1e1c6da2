/**
 * The reference backend with lesson 08's fast CPU scan (`selectiveScanFast`: WebAssembly SIMD,
 * float32) in place of its float64 recurrence: what `mambaForward`'s default `scan: "fast"` runs.
 * The fast scan reads channels first, (b, E, l), so the token-major arguments are transposed in
 * and the output back (O(b·l·E) copies against the scan's O(b·l·E·N) work). It starts from a zero
 * state, so a call that continues a sequence (a non-zero state) runs the reference recurrence.
 */
import type { Tensor } from "../tensor";
import { runJs, runWasm } from "../selective-fast/fast-scan";
import { wasmSimdSupported } from "../ops/simd/wasm";
import type { Backend, ScanArgs } from "../ops/backend";
import { reference } from "../ops/reference/index";

/** (b, l, c) → (b, c, l), float32. */
function channelsFirst(t: Tensor): Tensor<Float32Array> {
  const [b, l, c] = t.shape;
  const out = new Float32Array(t.data.length);
  for (let i = 0; i < b; i++)
    for (let p = 0; p < l; p++)
      for (let j = 0; j < c; j++) out[(i * c + j) * l + p] = t.data[(i * l + p) * c + j];
  return { shape: [b, c, l], data: out };
}

function fastSelectiveScan(a: ScanArgs, state: Tensor | null): Tensor {
  if ((state && state.data.some((v) => v !== 0)) || a.B.shape.length === 2) {
    return reference.selectiveScan(a, state);
  }
  const [batch, length, E] = a.u.shape;
  const N = a.A.shape[1];
  const args = {
    u: channelsFirst(a.u),
    delta: channelsFirst(a.delta),
    A: a.A,
    B: channelsFirst(a.B),
    C: channelsFirst(a.C),
    D: a.D,
    z: a.z ? channelsFirst(a.z) : null,
    deltaBias: a.deltaBias,
    deltaSoftplus: true,
  };
  const out = new Float32Array(batch * E * length);
  const last = state ? new Float32Array(batch * E * N) : null;
  if (wasmSimdSupported()) runWasm(args, 1, out, last, undefined);
  else runJs(args, 1, out, last);
  if (state && last) state.data.set(last);
  const y =
    a.u.data instanceof Float32Array ? new Float32Array(out.length) : new Float64Array(out.length);
  for (let i = 0; i < batch; i++)
    for (let e = 0; e < E; e++)
      for (let p = 0; p < length; p++) y[(i * length + p) * E + e] = out[(i * E + e) * length + p];
  return { shape: [batch, length, E], data: y };
}

/** {@link reference} with the fast scan (see the module comment). */
export const referenceWithFastScan: Backend = {
  ...reference,
  name: "reference+fast-scan",
  selectiveScan: fastSelectiveScan,
};
