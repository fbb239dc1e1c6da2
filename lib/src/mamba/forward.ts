/**
 * The Mamba block and language model, forward (Gu & Dao 2023, Figure 3; `mamba_simple.py`'s
 * `Mamba.forward` without the fused kernels, and `mixer_seq_simple.py`'s `MixerModel`).
 */
import { type Tensor } from "../tensor";
import { assertInteger, assertOneOf, assertTensor, describe } from "../validate";
import { aFromLog } from "../selective/s6";
import { selectiveScan } from "../selective/scan";
import { selectiveScanFast } from "../selective-fast/fast-scan";
import { wasmSimdSupported } from "../selective-fast/wasm";
import { linear } from "../nn/linear";
import { rmsNorm } from "../nn/rms-norm";
import { embedding } from "../nn/embedding";
import { causalDepthwiseConv1d } from "../nn/conv1d";
import { siluTensor } from "../nn/elementwise";
import { transpose12 } from "../nn/transpose";
import { sliceLastAxis } from "../nn/slice";
import { mixerPrefix } from "./config";
import { type MambaModel, checkMambaModel, lmHeadWeight } from "./model";

/** Which selective scan runs inside the block. */
export type MambaScan = "reference" | "fast";

/** Options of {@link mambaForward} and {@link mambaBlock}. */
export interface MambaForwardOptions {
  /**
   * "fast" (default): `selectiveScanFast` (WebAssembly SIMD, float32; its "js" engine where SIMD
   * is missing); "reference": lib's `selectiveScan` (float64 recurrence, lesson 06).
   */
  scan?: MambaScan;
}

/** Token ids: a (b, l) tensor with Int32Array data, or number[][] (rows of equal length). */
export type MambaTokens = { shape: number[]; data: Int32Array } | number[][];

/** The state a block leaves behind after its last position (for decoding after a prompt). */
export interface MambaBlockState {
  /** The last k inputs of the conv (pre-conv x), (b, E, k), zero-padded on the left. */
  conv: Tensor<Float32Array>;
  /** The SSM state h after the last position, (b, E, N). */
  ssm: Tensor<Float32Array>;
}

/** Reads token ids into an Int32Array and [b, l], checking they lie in [0, vocab). */
export function readTokens(
  fn: string,
  tokens: unknown,
  vocab: number,
): { ids: Int32Array; shape: [number, number] } {
  let ids: Int32Array;
  let shape: [number, number];
  if (Array.isArray(tokens)) {
    const b = tokens.length;
    const l = b > 0 && Array.isArray(tokens[0]) ? tokens[0].length : 0;
    ids = new Int32Array(b * l);
    tokens.forEach((row, i) => {
      if (!Array.isArray(row) || row.length !== l) {
        throw new Error(
          `${fn}: argument 'tokens' must be number[][] with rows of equal length ${l} (got ${describe(row)} as row ${i})`,
        );
      }
      row.forEach((v, j) => {
        if (!Number.isInteger(v))
          throw new Error(
            `${fn}: argument 'tokens' must be a batch of integer ids (got ${describe(v)} at [${i}][${j}])`,
          );
        ids[i * l + j] = v;
      });
    });
    shape = [b, l];
  } else {
    const t = tokens as { shape?: unknown; data?: unknown } | null;
    if (
      t === null ||
      typeof t !== "object" ||
      !Array.isArray(t.shape) ||
      !(t.data instanceof Int32Array)
    ) {
      throw new Error(
        `${fn}: argument 'tokens' must be { shape: [b, l], data: Int32Array } or number[][] (got ${describe(tokens)})`,
      );
    }
    if (t.shape.length !== 2 || t.shape[0] * t.shape[1] !== t.data.length) {
      throw new Error(
        `${fn}: argument 'tokens' must be a tensor of shape [b, l] matching its ${t.data.length} ids (got shape [${t.shape.join(", ")}])`,
      );
    }
    ids = t.data;
    shape = [t.shape[0], t.shape[1]];
  }
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] < 0 || ids[i] >= vocab) {
      throw new Error(
        `${fn}: argument 'tokens' must be token ids in [0, ${vocab}) (vocab_size) (got ${ids[i]} at flat index ${i})`,
      );
    }
  }
  return { ids, shape };
}

function param(model: MambaModel, name: string): Tensor<Float32Array> {
  return model.params.get(name)!;
}

function optionalParam(model: MambaModel, name: string): Tensor<Float32Array> | null {
  return model.params.get(name) ?? null;
}

function f32(t: Tensor): Tensor<Float32Array> {
  return t.data instanceof Float32Array
    ? (t as Tensor<Float32Array>)
    : { shape: t.shape, data: Float32Array.from(t.data) };
}

/**
 * One Mamba mixer (the block of Figure 3) on a normalised input u (b, l, d) -> (b, l, d):
 *
 *   [x, z] = in_proj(u)                     x, z: (b, E, l) after the transpose
 *   x      = SiLU(conv1d(x))                causal depthwise, width k
 *   [δ, B, C] = x_proj(x)                   δ: (b, l, R), B, C: (b, l, N) -> (b, N, l)
 *   Δ_raw  = dt_proj.weight · δ             (b, E, l); the bias goes in the scan
 *   y      = scan(x, Δ = softplus(Δ_raw + dt_proj.bias), A = −exp(A_log), B, C, D) · SiLU(z)
 *   out    = out_proj(y)                    (b, l, d)
 *
 * `layer` picks the parameters `backbone.layers.{layer}.mixer.*`. With `state`, the block also
 * returns the conv and SSM states after the last position (what decoding continues from).
 */
export function mambaMixer(
  model: MambaModel,
  layer: number,
  u: Tensor,
  options: MambaForwardOptions & { returnState?: boolean } = {},
): { out: Tensor<Float32Array>; state?: MambaBlockState } {
  const fn = "mambaMixer";
  checkMambaModel(fn, model);
  const cfg = model.config;
  assertInteger(`${fn}: layer`, layer, 0, cfg.num_hidden_layers - 1);
  checkHidden(fn, u, cfg.hidden_size);
  checkForwardOptions(fn, options, ["scan", "returnState"]);
  const m = mixerPrefix(layer);
  const E = cfg.intermediate_size;
  const N = cfg.state_size;
  const R = cfg.time_step_rank;
  const k = cfg.conv_kernel;
  const [b, l] = u.shape;
  const xz = linear(
    u,
    param(model, m + "in_proj.weight"),
    optionalParam(model, m + "in_proj.bias"),
  );
  const xPre = transpose12(sliceLastAxis(xz, 0, E)); // (b, E, l)
  const z = transpose12(sliceLastAxis(xz, E, E)); // (b, E, l)
  const x = f32(
    siluTensor(
      causalDepthwiseConv1d(
        xPre,
        param(model, m + "conv1d.weight"),
        optionalParam(model, m + "conv1d.bias"),
      ),
    ),
  );
  const xDbl = linear(transpose12(x), param(model, m + "x_proj.weight")); // (b, l, R + 2N)
  const dtLow = sliceLastAxis(xDbl, 0, R); // (b, l, R)
  const B = transpose12(sliceLastAxis(xDbl, R, N)); // (b, N, l)
  const C = transpose12(sliceLastAxis(xDbl, R + N, N)); // (b, N, l)
  const delta = transpose12(linear(dtLow, param(model, m + "dt_proj.weight"))); // (b, E, l)
  const scanArgs = {
    u: x,
    delta,
    A: aFromLog(param(model, m + "A_log")),
    B,
    C,
    D: param(model, m + "D"),
    z,
    deltaBias: param(model, m + "dt_proj.bias"),
    deltaSoftplus: true,
    returnLastState: options.returnState === true,
  };
  const scan = options.scan ?? "fast";
  const result =
    scan === "fast"
      ? selectiveScanFast(scanArgs, { engine: wasmSimdSupported() ? "wasm" : "js" })
      : selectiveScan(scanArgs);
  const y = transpose12(result.out); // (b, l, E)
  const out = f32(
    linear(y, param(model, m + "out_proj.weight"), optionalParam(model, m + "out_proj.bias")),
  );
  if (!options.returnState) return { out };
  const conv = new Float32Array(b * E * k);
  for (let bi = 0; bi < b; bi++)
    for (let e = 0; e < E; e++)
      for (let j = 0; j < k; j++) {
        const t = l - k + j;
        if (t >= 0) conv[(bi * E + e) * k + j] = xPre.data[(bi * E + e) * l + t];
      }
  return { out, state: { conv: { shape: [b, E, k], data: conv }, ssm: f32(result.lastState!) } };
}

/**
 * The language model: h₀ = embedding(tokens); for each layer hᵢ₊₁ = hᵢ + mixer(RMSNorm(hᵢ));
 * logits = head(RMSNorm_f(h_L)), the head tied to the embedding unless `tie_word_embeddings` is
 * false. The residual stream is float32 (`residual_in_fp32`).
 *
 * Shapes: tokens (b, l) ids in [0, vocab_size). Returns logits (b, l, vocab_size), float32.
 */
export function mambaForward(
  model: MambaModel,
  tokens: MambaTokens,
  options: MambaForwardOptions = {},
): Tensor<Float32Array> {
  return mambaForwardWithState(model, tokens, options, "mambaForward").logits;
}

/**
 * {@link mambaForward} that can also return every layer's state after the last position
 * (`returnState`) and compute the head only at the last position (`lastPositionOnly`: logits
 * (b, 1, vocab_size), which is all a prompt needs; the head is the largest matmul of a small model).
 */
export function mambaForwardWithState(
  model: MambaModel,
  tokens: MambaTokens,
  options: MambaForwardOptions & { returnState?: boolean; lastPositionOnly?: boolean } = {},
  fn = "mambaForwardWithState",
): { logits: Tensor<Float32Array>; states?: MambaBlockState[] } {
  checkMambaModel(fn, model);
  checkForwardOptions(fn, options, ["scan", "returnState", "lastPositionOnly"]);
  if (options.lastPositionOnly !== undefined && typeof options.lastPositionOnly !== "boolean") {
    throw new Error(
      `${fn}: argument 'options.lastPositionOnly' must be true or false (got ${describe(options.lastPositionOnly)})`,
    );
  }
  const cfg = model.config;
  const { ids, shape } = readTokens(fn, tokens, cfg.vocab_size);
  let h: Tensor<Float32Array> = f32(
    embedding(ids, param(model, "backbone.embeddings.weight"), shape),
  );
  const states: MambaBlockState[] = [];
  for (let i = 0; i < cfg.num_hidden_layers; i++) {
    const normed = rmsNorm(
      h,
      param(model, `backbone.layers.${i}.norm.weight`),
      cfg.layer_norm_epsilon,
    );
    const { out, state } = mambaMixer(model, i, normed, {
      ...(options.scan ? { scan: options.scan } : {}),
      returnState: options.returnState === true,
    });
    const next = new Float32Array(h.data.length);
    for (let j = 0; j < next.length; j++) next[j] = h.data[j] + out.data[j];
    h = { shape: h.shape, data: next };
    if (state) states.push(state);
  }
  if (options.lastPositionOnly) h = lastPosition(h);
  const final = rmsNorm(h, param(model, "backbone.norm_f.weight"), cfg.layer_norm_epsilon);
  const logits = f32(linear(final, lmHeadWeight(model)));
  return options.returnState ? { logits, states } : { logits };
}

/** The last position of a (b, l, d) tensor, as (b, 1, d). */
function lastPosition(h: Tensor<Float32Array>): Tensor<Float32Array> {
  const [b, l, d] = h.shape;
  const out = new Float32Array(b * d);
  for (let i = 0; i < b; i++) out.set(h.data.subarray((i * l + l - 1) * d, (i * l + l) * d), i * d);
  return { shape: [b, 1, d], data: out };
}

/** Checks an options object: known keys only, `scan` one of "reference" | "fast". */
export function checkForwardOptions(fn: string, options: unknown, keys: readonly string[]): void {
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw new Error(`${fn}: argument 'options' must be an object (got ${describe(options)})`);
  }
  const o = options as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!keys.includes(key))
      throw new Error(
        `${fn}: argument 'options' must be an options object (got an unknown key "${key}"; the keys are ${keys.join(", ")})`,
      );
  }
  if (o.scan !== undefined)
    assertOneOf(`${fn}: options.scan`, o.scan, ["reference", "fast"] as const);
  if (o.returnState !== undefined && typeof o.returnState !== "boolean") {
    throw new Error(
      `${fn}: argument 'options.returnState' must be true or false (got ${describe(o.returnState)})`,
    );
  }
}

/** Checks a hidden-state tensor (b, l, d) for a block. */
export function checkHidden(fn: string, u: unknown, d: number): Tensor {
  return assertTensor(`${fn}: u`, u, { shape: [null, null, d], axes: ["b", "l", "d"] });
}
