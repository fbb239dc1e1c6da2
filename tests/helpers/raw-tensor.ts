/**
 * A tensor from nested arrays without lib's `tensor()` checks, for tests that must build the bad
 * input (NaN, Infinity) that `tensor()` itself now rejects.
 */
import type { Tensor } from "../../lib/src/tensor";

type Nested = number | Nested[];

export function rawTensor(values: Nested): Tensor {
  const shape: number[] = [];
  for (let p: Nested = values; Array.isArray(p); p = p[0]) shape.push(p.length);
  const flat: number[] = [];
  const walk = (v: Nested): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else flat.push(v);
  };
  walk(values);
  return { shape, data: Float64Array.from(flat) };
}
