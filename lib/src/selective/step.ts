/**
 * One step of the selective recurrence, for decoding a token at a time with a constant-size state
 * (the recurrent mode of Mamba; the layout of Mamba's `selective_state_update`).
 */
import { type Tensor, allocate, dtypeOf } from "../tensor";
import { checkArg, checkOptions, isAbsent, schema } from "../validate";
import { siluRaw, softplusRaw } from "../ops/reference/scalar";

/** Arguments of {@link selectiveStateUpdate}. */
export interface SelectiveStepArgs {
  /** State before the step, (b, d, n). */
  state: Tensor;
  /** This position's input, (b, d). */
  x: Tensor;
  /** This position's raw step size, (b, d). */
  dt: Tensor;
  /** (d, n). */
  A: Tensor;
  /** This position's B and C, (b, n). */
  B: Tensor;
  C: Tensor;
  /** Skip, (d). */
  D?: Tensor | null;
  /** Gate, (b, d): out *= silu(z). */
  z?: Tensor | null;
  /** Added to dt before the softplus, (d). */
  dtBias?: Tensor | null;
  /** Apply softplus to dt (+ bias). Default false. */
  dtSoftplus?: boolean;
}

const given = schema.present<Tensor>();
const optionalTensor = schema.optional(given);

/** The keys of {@link selectiveStateUpdate}'s argument object (shapes are checked in it). */
const STEP_ARGS = schema.options(
  {
    state: schema.tensor({ rank: 3, axes: ["b", "d", "n"] }),
    x: given,
    dt: given,
    A: given,
    B: given,
    C: given,
    D: optionalTensor,
    z: optionalTensor,
    dtBias: optionalTensor,
    dtSoftplus: schema.optional(schema.boolean()),
  },
  "an argument object",
);

/**
 * One step of the selective SSM for every batch element and channel:
 *
 *   Δ = softplus(dt[b,d] + dtBias[d])   (bias and softplus optional)
 *   h'[b,d,n] = exp(Δ · A[d,n]) · h[b,d,n] + Δ · B[b,n] · x[b,d]
 *   out[b,d]  = (Σ_n h'[b,d,n] · C[b,n] + D[d] · x[b,d]) · silu(z[b,d])
 *
 * Running it over positions l = 0, 1, ... from a zero state gives exactly the outputs of
 * `selectiveScan` (same equations, one position at a time).
 *
 * @returns out (b, d) and the new state (b, d, n), both with the state's dtype; the input state is
 *   not modified. Computed in float64.
 */
export function selectiveStateUpdate(args: SelectiveStepArgs): { out: Tensor; state: Tensor } {
  const fn = "selectiveStateUpdate";
  // The options schema has checked the state and the flag; the rest is checked against its sizes.
  const a = checkOptions(fn, "", args, STEP_ARGS);
  const state = a.state!;
  const [batch, dim, dstate] = state.shape;
  const bd = schema.tensor({ shape: [batch, dim], axes: ["b", "d"] });
  const bn = schema.tensor({ shape: [batch, dstate], axes: ["b", "n"] });
  const perChannel = schema.tensor({ shape: [dim], axes: ["d"] });
  const x = checkArg(fn, "x", a.x, bd);
  const dt = checkArg(fn, "dt", a.dt, bd);
  const A = checkArg(fn, "A", a.A, schema.tensor({ shape: [dim, dstate], axes: ["d", "n"] }));
  const B = checkArg(fn, "B", a.B, bn);
  const C = checkArg(fn, "C", a.C, bn);
  const D = isAbsent(a.D) ? null : checkArg(fn, "D", a.D, perChannel);
  const z = isAbsent(a.z) ? null : checkArg(fn, "z", a.z, bd);
  const bias = isAbsent(a.dtBias) ? null : checkArg(fn, "dtBias", a.dtBias, perChannel);
  const dtype = dtypeOf(state);
  const next = allocate(dtype, state.data.length);
  const out = allocate(dtype, batch * dim);
  for (let b = 0; b < batch; b++) {
    for (let d = 0; d < dim; d++) {
      const i = b * dim + d;
      let delta = dt.data[i] + (bias ? bias.data[d] : 0);
      if (args.dtSoftplus) delta = softplusRaw(delta);
      const xi = x.data[i];
      let y = 0;
      for (let n = 0; n < dstate; n++) {
        const h =
          Math.exp(delta * A.data[d * dstate + n]) * state.data[i * dstate + n] +
          delta * B.data[b * dstate + n] * xi;
        next[i * dstate + n] = h;
        y += h * C.data[b * dstate + n];
      }
      let o = y + (D ? D.data[d] : 0) * xi;
      if (z) o *= siluRaw(z.data[i]);
      out[i] = o;
    }
  }
  return {
    out: { shape: [batch, dim], data: out },
    state: { shape: [batch, dim, dstate], data: next },
  };
}
