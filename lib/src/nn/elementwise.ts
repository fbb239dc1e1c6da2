/**
 * The scalar nonlinearities of `selective/activations.ts` applied to every element of a tensor
 * (the Mamba block's SiLU after the conv and on the gate, softplus on Δ).
 */
import { type Tensor, allocate, dtypeOf } from "../tensor";
import { checkArg, schema } from "../validate";
import { sigmoidRaw, siluRaw, softplusRaw } from "../ops/reference/scalar";

const ANY_VALUES = schema.tensor({ finite: false });

/** out[i] = f(x[i]); same shape and dtype as x. */
export function mapTensor(x: Tensor, f: (v: number) => number): Tensor {
  const xt = checkArg("mapTensor", "x", x, ANY_VALUES);
  checkArg("mapTensor", "f", f, schema.function<(v: number) => number>());
  return mapRaw(xt, f);
}

/** f applied to every element of a checked x (f is lib's own or already checked). */
function mapRaw(xt: Tensor, f: (v: number) => number): Tensor {
  const out = allocate(dtypeOf(xt), xt.data.length);
  for (let i = 0; i < out.length; i++) out[i] = f(xt.data[i]);
  return { shape: [...xt.shape], data: out };
}

/** silu(x) = x · σ(x) elementwise; any shape. */
export function siluTensor(x: Tensor): Tensor {
  return mapRaw(checkArg("siluTensor", "x", x, ANY_VALUES), siluRaw);
}

/** softplus(x) = log(1 + eˣ) elementwise; any shape. */
export function softplusTensor(x: Tensor): Tensor {
  return mapRaw(checkArg("softplusTensor", "x", x, ANY_VALUES), softplusRaw);
}

/** σ(x) = 1 / (1 + e⁻ˣ) elementwise; any shape. */
export function sigmoidTensor(x: Tensor): Tensor {
  return mapRaw(checkArg("sigmoidTensor", "x", x, ANY_VALUES), sigmoidRaw);
}
