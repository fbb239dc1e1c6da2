/**
 * One {@link SimdEngine} per state size, made on first use and reused (its kernels are compiled
 * once and its memory only grows; a step rewrites every buffer it reads, so nothing carries over
 * from one call to the next).
 */
import { SimdEngine } from "./engine";

const engines = new Map<number, SimdEngine>();

/** The shared simd engine for models with state size N. */
export function simdEngineFor(N: number): SimdEngine {
  let e = engines.get(N);
  if (!e) {
    e = new SimdEngine(N);
    engines.set(N, e);
  }
  return e;
}
