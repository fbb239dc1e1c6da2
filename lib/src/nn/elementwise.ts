/**
 * The scalar nonlinearities of `selective/activations.ts` applied to every element of a tensor
 * (the Mamba block's SiLU after the conv and on the gate, softplus on Δ).
 */
import { type Tensor, allocate, dtypeOf } from "../tensor";
import { assertFunction, assertTensor } from "../validate";
import { sigmoid, silu, softplus } from "../selective/activations";

/** out[i] = f(x[i]); same shape and dtype as x. `fn` names the caller in errors. */
export function mapTensor(x: Tensor, f: (v: number) => number, fn = "mapTensor"): Tensor {
  const xt = assertTensor(`${fn}: x`, x, { finite: false });
  assertFunction(`${fn}: f`, f);
  const out = allocate(dtypeOf(xt), xt.data.length);
  for (let i = 0; i < out.length; i++) out[i] = f(xt.data[i]);
  return { shape: [...xt.shape], data: out };
}

/** silu(x) = x · σ(x) elementwise; any shape. */
export function siluTensor(x: Tensor): Tensor {
  return mapTensor(x, silu, "siluTensor");
}

/** softplus(x) = log(1 + eˣ) elementwise; any shape. */
export function softplusTensor(x: Tensor): Tensor {
  return mapTensor(x, softplus, "softplusTensor");
}

/** σ(x) = 1 / (1 + e⁻ˣ) elementwise; any shape. */
export function sigmoidTensor(x: Tensor): Tensor {
  return mapTensor(x, sigmoid, "sigmoidTensor");
}
