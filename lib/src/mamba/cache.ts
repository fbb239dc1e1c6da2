/**
 * Decoding a token at a time with a constant-size cache: Mamba's recurrent mode. Per layer the
 * cache holds the conv state (the last k inputs of every channel) and the SSM state h (E × N):
 * its size does not grow with the position, unlike a Transformer's KV cache.
 */
import type { Tensor } from "../tensor";
import { assertInteger, describe } from "../validate";
import { aFromLog } from "../selective/s6";
import { selectiveStateUpdate } from "../selective/step";
import { silu } from "../selective/activations";
import { linear } from "../nn/linear";
import { rmsNorm } from "../nn/rms-norm";
import { embedding } from "../nn/embedding";
import { sliceLastAxis } from "../nn/slice";
import { mixerPrefix } from "./config";
import { type MambaModel, checkMambaModel, lmHeadWeight } from "./model";
import {
  type MambaForwardOptions,
  checkForwardOptions,
  mambaForwardWithState,
  readTokens,
} from "./forward";

/** The decoding state of a Mamba LM for a batch of sequences. */
export interface MambaCache {
  batch: number;
  /** Positions consumed so far. */
  position: number;
  /** Per layer: the last k pre-conv inputs, (b, E, k), oldest first. */
  conv: Tensor<Float32Array>[];
  /** Per layer: the SSM state, (b, E, N). */
  ssm: Tensor<Float32Array>[];
}

/** An empty cache (all zeros, position 0) for `batch` sequences. */
export function createMambaCache(model: MambaModel, batch: number): MambaCache {
  const fn = "createMambaCache";
  checkMambaModel(fn, model);
  assertInteger(`${fn}: batch`, batch, 1, 1 << 16);
  const {
    intermediate_size: E,
    conv_kernel: k,
    state_size: N,
    num_hidden_layers: L,
  } = model.config;
  const conv: Tensor<Float32Array>[] = [];
  const ssm: Tensor<Float32Array>[] = [];
  for (let i = 0; i < L; i++) {
    conv.push({ shape: [batch, E, k], data: new Float32Array(batch * E * k) });
    ssm.push({ shape: [batch, E, N], data: new Float32Array(batch * E * N) });
  }
  return { batch, position: 0, conv, ssm };
}

/** Bytes of the cache: L · b · E · (k + N) float32 values, whatever the position. */
export function mambaCacheBytes(cache: MambaCache): number {
  checkCache("mambaCacheBytes", cache);
  let bytes = 0;
  for (const t of [...cache.conv, ...cache.ssm]) bytes += t.data.byteLength;
  return bytes;
}

function checkCache(fn: string, cache: unknown, model?: MambaModel): MambaCache {
  const c = cache as Partial<MambaCache> | null;
  if (
    c === null ||
    typeof c !== "object" ||
    !Array.isArray(c.conv) ||
    !Array.isArray(c.ssm) ||
    typeof c.batch !== "number"
  ) {
    throw new Error(
      `${fn}: argument 'cache' must be a cache from createMambaCache (got ${describe(cache)})`,
    );
  }
  if (model) {
    const {
      intermediate_size: E,
      conv_kernel: k,
      state_size: N,
      num_hidden_layers: L,
    } = model.config;
    const ok =
      c.conv.length === L &&
      c.ssm.length === L &&
      c.conv.every((t) => t.data.length === c.batch! * E * k) &&
      c.ssm.every((t) => t.data.length === c.batch! * E * N);
    if (!ok)
      throw new Error(
        `${fn}: argument 'cache' must be a cache made by createMambaCache for this model (got one that does not fit: made for another model?)`,
      );
  }
  return c as MambaCache;
}

/**
 * One decoding step: feeds one token per sequence, updates the cache in place, and returns the
 * logits for the next token, (b, vocab_size), float32. Per layer (u = RMSNorm(h), shapes (b, ·)):
 *
 *   [x, z] = in_proj(u);  conv ← [conv[:, :, 1:], x];  x = SiLU(Σ_j conv[:, :, j] · w[:, 0, j] + bias)
 *   [δ, B, C] = x_proj(x);  h ← exp(ΔA) h + Δ B x;  y = (C·h + D x) · SiLU(z),  Δ = softplus(dt_proj(δ))
 *   h_stream += out_proj(y)
 *
 * the same equations as {@link mambaForward}, one position at a time.
 * @param tokens (b) ids: number[] or Int32Array, b = cache.batch
 */
export function mambaStep(
  model: MambaModel,
  cache: MambaCache,
  tokens: number[] | Int32Array,
): Tensor<Float32Array> {
  const fn = "mambaStep";
  checkMambaModel(fn, model);
  checkCache(fn, cache, model);
  const cfg = model.config;
  const batch = cache.batch;
  if (!(Array.isArray(tokens) || tokens instanceof Int32Array) || tokens.length !== batch) {
    throw new Error(
      `${fn}: argument 'tokens' must be an array of ${batch} ids (one per sequence of the cache) (got ${describe(tokens)})`,
    );
  }
  tokens.forEach((id: number, i: number) => {
    if (!Number.isInteger(id)) {
      throw new Error(
        `${fn}: argument 'tokens' must be an array of integer ids (got ${describe(id)} at index ${i})`,
      );
    }
  });
  const { ids } = readTokens(
    fn,
    { shape: [batch, 1], data: Int32Array.from(tokens) },
    cfg.vocab_size,
  );
  const { intermediate_size: E, state_size: N, time_step_rank: R, conv_kernel: k } = cfg;
  const p = (name: string) => model.params.get(name)!;
  let h = embedding(ids, p("backbone.embeddings.weight"), [batch, 1]).data as Float32Array; // (b, d)
  const d = cfg.hidden_size;
  for (let i = 0; i < cfg.num_hidden_layers; i++) {
    const m = mixerPrefix(i);
    const u = rmsNorm(
      { shape: [batch, d], data: h },
      p(`backbone.layers.${i}.norm.weight`),
      cfg.layer_norm_epsilon,
    );
    const xz = linear(u, p(m + "in_proj.weight"), model.params.get(m + "in_proj.bias") ?? null); // (b, 2E)
    const conv = cache.conv[i].data;
    const w = p(m + "conv1d.weight").data;
    const bias = model.params.get(m + "conv1d.bias")?.data ?? null;
    const x = new Float32Array(batch * E);
    const z = new Float32Array(batch * E);
    for (let b = 0; b < batch; b++) {
      for (let e = 0; e < E; e++) {
        const o = (b * E + e) * k;
        conv.copyWithin(o, o + 1, o + k); // drop the oldest input
        conv[o + k - 1] = xz.data[b * 2 * E + e];
        let s = bias ? bias[e] : 0;
        for (let j = 0; j < k; j++) s += conv[o + j] * w[e * k + j];
        x[b * E + e] = silu(s);
        z[b * E + e] = xz.data[b * 2 * E + E + e];
      }
    }
    const xDbl = linear({ shape: [batch, E], data: x }, p(m + "x_proj.weight")); // (b, R + 2N)
    const dt = linear(sliceLastAxis(xDbl, 0, R), p(m + "dt_proj.weight")); // (b, E), bias in the update
    const step = selectiveStateUpdate({
      state: cache.ssm[i],
      x: { shape: [batch, E], data: x },
      dt,
      A: aFromLog(p(m + "A_log")),
      B: sliceLastAxis(xDbl, R, N),
      C: sliceLastAxis(xDbl, R + N, N),
      D: p(m + "D"),
      z: { shape: [batch, E], data: z },
      dtBias: p(m + "dt_proj.bias"),
      dtSoftplus: true,
    });
    cache.ssm[i] = step.state as Tensor<Float32Array>;
    const out = linear(
      step.out,
      p(m + "out_proj.weight"),
      model.params.get(m + "out_proj.bias") ?? null,
    );
    const next = new Float32Array(h.length);
    for (let j = 0; j < next.length; j++) next[j] = h[j] + out.data[j];
    h = next;
  }
  cache.position += 1;
  const final = rmsNorm(
    { shape: [batch, d], data: h },
    p("backbone.norm_f.weight"),
    cfg.layer_norm_epsilon,
  );
  return linear(final, lmHeadWeight(model)) as Tensor<Float32Array>;
}

/**
 * Reads a prompt into an empty cache with one full forward pass (the parallel mode) and returns
 * the logits of its last position, (b, vocab_size). Afterwards the cache is exactly what
 * {@link mambaStep} over the same tokens would have left.
 */
export function mambaPrefill(
  model: MambaModel,
  cache: MambaCache,
  tokens: { shape: number[]; data: Int32Array } | number[][],
  options: MambaForwardOptions = {},
): Tensor<Float32Array> {
  const fn = "mambaPrefill";
  checkMambaModel(fn, model);
  checkCache(fn, cache, model);
  checkForwardOptions(fn, options, ["scan"]);
  if (cache.position !== 0)
    throw new Error(
      `${fn}: argument 'cache' must be a fresh cache (position 0) (got position ${cache.position})`,
    );
  const { shape } = readTokens(fn, tokens, model.config.vocab_size);
  if (shape[0] !== cache.batch)
    throw new Error(
      `${fn}: argument 'tokens' must be a batch of ${cache.batch} sequences (the cache's batch) (got ${shape[0]})`,
    );
  if (shape[1] < 1)
    throw new Error(
      `${fn}: argument 'tokens' must be a batch with at least one position (got length 0)`,
    );
  const { logits, states } = mambaForwardWithState(
    model,
    tokens,
    { ...options, returnState: true, lastPositionOnly: true },
    fn,
  );
  states!.forEach((s, i) => {
    cache.conv[i] = s.conv;
    cache.ssm[i] = s.ssm;
  });
  cache.position = shape[1];
  return { shape: [cache.batch, model.config.vocab_size], data: logits.data };
}
