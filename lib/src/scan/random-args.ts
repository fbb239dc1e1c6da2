/**
 * Random arguments for a selective scan with the value ranges of an initialised Mamba layer, for
 * lessons 07-08 and the scan benchmark.
 */
import { Rng } from "../rng";
import type { Tensor } from "../tensor";
import { MAX_ELEMENTS, argumentError, checkOptions, describe } from "../validate";
import { inverseSoftplusRaw } from "../ops/reference/scalar";
import type { SelectiveScanArgs } from "../selective/scan";
import { SCAN_SIZE } from "../selective/scan-checks";

/** Sizes of a selective scan. */
export interface ScanSize {
  batch: number;
  dim: number;
  length: number;
  dstate: number;
}

/**
 * Float32 arguments for `selectiveScan` and its fast variants, shaped (b, d, l, n) = size:
 * u, z ~ N(0, 1) (b, d, l); delta ~ N(0, 0.25) (b, d, l) with deltaBias (d) the inverse softplus
 * of step sizes log-uniform in [0.001, 0.1] and deltaSoftplus on, so Δ = softplus(delta + bias)
 * varies around each channel's initial step; A = -(1, 2, ..., n) in every channel (S4D-Real,
 * Mamba's initialisation) (d, n); B, C ~ N(0, 1) (b, n, l); D = 1 (d).
 */
export function randomSelectiveScanArgs(rng: Rng, size: ScanSize): SelectiveScanArgs {
  const fn = "randomSelectiveScanArgs";
  if (!(rng instanceof Rng)) throw argumentError(fn, "rng", `an Rng (got ${describe(rng)})`);
  const {
    batch: b,
    dim: d,
    length: l,
    dstate: n,
  } = checkOptions(fn, "size", size, SCAN_SIZE) as ScanSize;
  // the largest tensor made is u, delta or z, (b, d, l); B and C are (b, n, l), A is (d, n)
  const largest = Math.max(b * d * l, b * n * l, d * n);
  if (largest > MAX_ELEMENTS) {
    throw argumentError(
      fn,
      "size",
      `a request for at most ${MAX_ELEMENTS} elements per tensor (got ${largest} in the largest of (b, d, l), (b, n, l), (d, n))`,
    );
  }
  const t = (shape: number[], f: (i: number) => number): Tensor<Float32Array> => {
    const len = shape.reduce((p, s) => p * s, 1);
    const data = new Float32Array(len);
    for (let i = 0; i < len; i++) data[i] = f(i);
    return { shape, data };
  };
  const lo = Math.log(0.001);
  const hi = Math.log(0.1);
  return {
    u: t([b, d, l], () => rng.normal()),
    delta: t([b, d, l], () => 0.5 * rng.normal()),
    A: t([d, n], (i) => -((i % n) + 1)),
    B: t([b, n, l], () => rng.normal()),
    C: t([b, n, l], () => rng.normal()),
    D: t([d], () => 1),
    z: t([b, d, l], () => rng.normal()),
    deltaBias: t([d], () => inverseSoftplusRaw(Math.exp(rng.uniform(lo, hi)))),
    deltaSoftplus: true,
  };
}
