/**
 * The best time-invariant (LTI) model of a token task, fitted in closed form: lesson 05's baseline.
 *
 * Tokens enter as one-hot vectors e(x_t) ∈ R^V. The model is one causal convolution with a
 * matrix-valued kernel K[0..m-1], each K[j] of shape (V, V), read out by argmax:
 *
 *   logits_t = Σ_{j=0}^{min(t, m-1)} K[j] · e(x_{t-j}) = Σ_j K[j][:, x_{t-j}],   ŷ_t = argmax logits_t
 *
 * With m = the input length, this contains every LTI system on the embedded tokens, whatever its
 * state size (each LTI SSM is one such kernel, K[j] = C Ā^j B̄), so its accuracy bounds what any
 * single LTI layer with a linear readout can do. The kernel is fitted by ridge regression of the
 * one-hot targets on the scored positions:
 *
 *   min_K  Σ_{examples, scored t} ‖logits_t - e(target_t)‖² + λ ‖K‖²,
 *
 * solved exactly. With S scored positions and F = m·V features (a row of Φ holds the one-hot tokens
 * at lags 0..m-1, so m of its entries are 1), the solution W (stacking the K[j]) is
 *
 *   W = (Φᵀ Φ + λ I)⁻¹ Φᵀ Y            (primal: an F × F system, used when S >= F)
 *     = Φᵀ (Φ Φᵀ + λ I)⁻¹ Y            (dual: an S × S system, used when S < F)
 *
 * Both systems are symmetric positive definite for λ > 0 and are solved by Cholesky factorisation.
 */
import type { Tensor } from "../tensor";
import { checkTaskSet } from "../tasks/checks";
import type { TokenTaskSet } from "../tasks/types";
import { argumentError, checkArg, checkOptions, describe, schema } from "../validate";

/** A fitted LTI token model. */
export interface LtiTokenModel {
  /** K of shape (m, V, V): kernel[j, out, in], the weight of token `in` seen j steps ago on logit `out`. */
  kernel: Tensor;
  /** Kernel length m. */
  kernelLength: number;
  /** Vocabulary size V. */
  vocabSize: number;
}

/** Options of {@link fitLtiKernel}. */
export interface LtiFitOptions {
  /** Kernel length m (default: the set's input length, i.e. unrestricted). */
  kernelLength?: number;
  /** Ridge penalty λ > 0 (default 1e-3). */
  ridge?: number;
}

/**
 * Fits the kernel of an LTI token model to a task set by ridge regression (see the module
 * comment). Cost: O(S·m²) to accumulate the primal system and (m·V)³/3 to solve it, or O(S²·m)
 * and S³/3 for the dual one, whichever is smaller (S = n·k scored positions).
 *
 * @param set a task set (inputs (n, l), targets (n, k), scored at positions targetStart..l-1)
 * @returns the model; its kernel is float64 (m, V, V)
 */
export function fitLtiKernel(set: TokenTaskSet, options: LtiFitOptions = {}): LtiTokenModel {
  const fn = "fitLtiKernel";
  const s = checkTaskSet(fn, set);
  const o = checkOptions(fn, "options", options, LTI_FIT_OPTIONS);
  const l = s.inputLength;
  const m = checkArg(
    fn,
    "options.kernelLength",
    o.kernelLength ?? l,
    schema.integer({ min: 1, max: l }),
  );
  const ridge = o.ridge ?? 1e-3;
  const V = s.vocabSize;
  const F = m * V;
  const k = s.targetLength;
  const S = s.count * k;
  // The active features of scored position p = (example i, answer j): feature lag·V + token.
  const lagsOf = new Int32Array(S);
  const active = new Int32Array(S * m);
  const answer = new Int32Array(S);
  for (let i = 0; i < s.count; i++) {
    for (let j = 0; j < k; j++) {
      const p = i * k + j;
      const t = s.targetStart + j;
      lagsOf[p] = Math.min(t + 1, m);
      for (let lag = 0; lag < lagsOf[p]; lag++) {
        active[p * m + lag] = lag * V + s.inputs[i * l + t - lag];
      }
      answer[p] = s.targets[p];
    }
  }
  const W = new Float64Array(F * V);
  let failure: { pivot: number; at: number } | null;
  if (S >= F) {
    // Primal: (Φᵀ Φ + λ I) W = Φᵀ Y.
    const G = new Float64Array(F * F);
    for (let p = 0; p < S; p++) {
      const base = p * m;
      for (let a = 0; a < lagsOf[p]; a++) {
        const fa = active[base + a];
        W[fa * V + answer[p]] += 1;
        for (let b = 0; b < lagsOf[p]; b++) G[fa * F + active[base + b]] += 1;
      }
    }
    for (let f = 0; f < F; f++) G[f * F + f] += ridge;
    failure = choleskySolveInPlace(G, F, W, V);
  } else {
    // Dual: (Φ Φᵀ + λ I) α = Y, then W = Φᵀ α. (Φ Φᵀ)[p, q] counts the lags where p and q see
    // the same token.
    const G = new Float64Array(S * S);
    for (let p = 0; p < S; p++) {
      for (let q = 0; q <= p; q++) {
        const lags = Math.min(lagsOf[p], lagsOf[q]);
        let c = 0;
        for (let lag = 0; lag < lags; lag++) if (active[p * m + lag] === active[q * m + lag]) c++;
        G[p * S + q] = c;
        G[q * S + p] = c;
      }
      G[p * S + p] += ridge;
    }
    const alpha = new Float64Array(S * V);
    for (let p = 0; p < S; p++) alpha[p * V + answer[p]] = 1;
    failure = choleskySolveInPlace(G, S, alpha, V);
    for (let p = 0; p < S; p++) {
      for (let a = 0; a < lagsOf[p]; a++) {
        const fa = active[p * m + a];
        for (let v = 0; v < V; v++) W[fa * V + v] += alpha[p * V + v];
      }
    }
  }
  if (failure !== null) {
    throw argumentError(
      fn,
      "options.ridge",
      `a ridge large enough for positive definite normal equations (got ${ridge}: pivot ${failure.pivot} at ${failure.at})`,
    );
  }
  // W[(lag, in), out] -> kernel[lag, out, in]
  const kernel = new Float64Array(m * V * V);
  for (let lag = 0; lag < m; lag++) {
    for (let inp = 0; inp < V; inp++) {
      for (let out = 0; out < V; out++)
        kernel[(lag * V + out) * V + inp] = W[(lag * V + inp) * V + out];
    }
  }
  return { kernel: { shape: [m, V, V], data: kernel }, kernelLength: m, vocabSize: V };
}

/**
 * Solves M X = B in place for a symmetric positive definite M (n, n) and B (n, c): M is
 * overwritten by its Cholesky factor L (M = L Lᵀ, lower triangle, about n³/3 multiply-adds), B by X.
 * Returns null, or the first non-positive pivot when M is not positive definite.
 */
function choleskySolveInPlace(
  M: Float64Array,
  n: number,
  B: Float64Array,
  c: number,
): { pivot: number; at: number } | null {
  for (let j = 0; j < n; j++) {
    const rj = j * n;
    let d = M[rj + j];
    for (let q = 0; q < j; q++) d -= M[rj + q] * M[rj + q];
    if (!(d > 0)) return { pivot: d, at: j };
    const ljj = Math.sqrt(d);
    M[rj + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      const ri = i * n;
      let v = M[ri + j];
      for (let q = 0; q < j; q++) v -= M[ri + q] * M[rj + q];
      M[ri + j] = v / ljj;
    }
  }
  // L Y = B, then Lᵀ X = Y.
  for (let i = 0; i < n; i++) {
    for (let q = 0; q < i; q++) {
      const lv = M[i * n + q];
      if (lv !== 0) for (let v = 0; v < c; v++) B[i * c + v] -= lv * B[q * c + v];
    }
    for (let v = 0; v < c; v++) B[i * c + v] /= M[i * n + i];
  }
  for (let i = n - 1; i >= 0; i--) {
    for (let v = 0; v < c; v++) B[i * c + v] /= M[i * n + i];
    for (let q = 0; q < i; q++) {
      const lv = M[i * n + q];
      if (lv !== 0) for (let v = 0; v < c; v++) B[q * c + v] -= lv * B[i * c + v];
    }
  }
  return null;
}

const KERNEL = schema.tensor({ rank: 3, axes: ["lag", "out", "in"] });

/** Checks the argument model: a fitted LTI token model. */
function checkModel(
  fn: string,
  model: LtiTokenModel,
): { m: number; V: number; K: Float64Array | Float32Array } {
  if (model === null || typeof model !== "object") {
    throw argumentError(
      fn,
      "model",
      `{ kernel (m, V, V), ... } from fitLtiKernel (got ${describe(model)})`,
    );
  }
  const K = checkArg(fn, "model.kernel", model.kernel, KERNEL);
  const [m, V, V2] = K.shape;
  if (V !== V2) {
    throw argumentError(
      fn,
      "model.kernel",
      `a tensor of shape (m, V, V) (got [${K.shape.join(", ")}])`,
    );
  }
  return { m, V, K: K.data };
}

/**
 * The model's logits at every position of one token sequence:
 * logits[t, :] = Σ_{j=0}^{min(t, m-1)} kernel[j, :, tokens[t - j]].
 *
 * @param tokens (l) token ids in [0, V)
 * @returns logits (l, V), float64
 */
export function ltiLogits(model: LtiTokenModel, tokens: ArrayLike<number>): Tensor {
  const fn = "ltiLogits";
  const { m, V, K } = checkModel(fn, model);
  if (tokens === null || typeof tokens !== "object" || typeof tokens.length !== "number") {
    throw argumentError(fn, "tokens", `an array of token ids (got ${describe(tokens)})`);
  }
  const l = tokens.length;
  for (let t = 0; t < l; t++) {
    const v = tokens[t];
    if (!Number.isInteger(v) || v < 0 || v >= V) {
      throw argumentError(
        fn,
        "tokens",
        `token ids in [0, ${V}) (got ${describe(v)} at index ${t})`,
      );
    }
  }
  const out = new Float64Array(l * V);
  for (let t = 0; t < l; t++) {
    for (let j = 0; j < Math.min(t + 1, m); j++) {
      const base = j * V * V + tokens[t - j];
      for (let o = 0; o < V; o++) out[t * V + o] += K[base + o * V];
    }
  }
  return { shape: [l, V], data: out };
}

/**
 * The model's predictions (argmax of the logits) at the scored positions of every example.
 *
 * @returns (n, k) token ids, like the set's targets
 */
export function ltiPredict(model: LtiTokenModel, set: TokenTaskSet): Int32Array {
  const fn = "ltiPredict";
  const { m, V, K } = checkModel(fn, model);
  const s = checkTaskSet(fn, set);
  if (s.vocabSize !== V) {
    throw argumentError(
      fn,
      "set",
      `a task set of vocabSize ${V} like the model (got ${s.vocabSize})`,
    );
  }
  const l = s.inputLength;
  const k = s.targetLength;
  const pred = new Int32Array(s.count * k);
  const logits = new Float64Array(V);
  for (let i = 0; i < s.count; i++) {
    for (let j = 0; j < k; j++) {
      const t = s.targetStart + j;
      logits.fill(0);
      for (let lag = 0; lag < Math.min(t + 1, m); lag++) {
        const base = lag * V * V + s.inputs[i * l + t - lag];
        for (let o = 0; o < V; o++) logits[o] += K[base + o * V];
      }
      let best = 0;
      for (let o = 1; o < V; o++) if (logits[o] > logits[best]) best = o;
      pred[i * k + j] = best;
    }
  }
  return pred;
}

const LTI_FIT_OPTIONS = schema.options({
  kernelLength: schema.optional(schema.integer({ min: 1 })),
  ridge: schema.optional(schema.positive()),
});
