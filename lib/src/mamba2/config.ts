/**
 * The configuration of a Mamba-2 language model, with the field names of Hugging Face
 * `transformers`' `Mamba2Config` (what `config.json` of a `Mamba2ForCausalLM` checkpoint holds),
 * and the parameter names and shapes it implies.
 */
import { argumentError, checkOptions, describe, schema } from "../validate";
import { BASE_CONFIG_FIELDS, type ConfigFieldTable, tableEntry } from "../checkpoint/config-fields";
import {
  MAMBA_CONFIG_TABLE,
  MAMBA_MAX_DIM,
  MAMBA_SHARED_HEAD_FIELDS,
  MAMBA_SHARED_HEAD_KEYS,
  MAMBA_SHARED_TAIL_FIELDS,
  MAMBA_SHARED_TAIL_KEYS,
  mambaFamilyParamShapes,
  mambaSharedTailDefaults,
  paramCountOfShapes,
} from "../mamba/config";

/** A Mamba-2 LM's hyperparameters (Hugging Face `Mamba2Config` names). */
export interface Mamba2Config {
  /** Vocabulary size V (rows of the embedding). */
  vocab_size: number;
  /** Model width d_model. */
  hidden_size: number;
  /** SSM state size N per head (d_state). Default 128. */
  state_size: number;
  /** Number of Mamba-2 blocks. */
  num_hidden_layers: number;
  /** E / d_model. Default 2. */
  expand: number;
  /** Causal conv width d_conv. Default 4. */
  conv_kernel: number;
  /** Heads H; H · head_dim = E. Default E / head_dim. */
  num_heads: number;
  /** Channels P per head (headdim). Default 64. */
  head_dim: number;
  /** Groups G of B and C, each shared by H / G heads (ngroups). Default 8. */
  n_groups: number;
  /** Chunk length Q of the chunked SSD algorithm (changes the rounding, not the maths). Default 256. */
  chunk_size: number;
  /** ε of every RMSNorm (the gated one too). Default 1e-5. */
  layer_norm_epsilon: number;
  /** Biases on in_proj and out_proj. Default false. */
  use_bias: boolean;
  /** Bias on the conv. Default true. */
  use_conv_bias: boolean;
  /** Keep the residual stream in float32 (ours is always float32). Default true. */
  residual_in_fp32: boolean;
  /** The output head reuses the embedding matrix. Default false (transformers' default). */
  tie_word_embeddings: boolean;
  /** Δ is clamped to [min, max] (`time_step_limit`). Default [0, ∞): no clamp. */
  time_step_limit: [number, number];
}

/** The fields a caller must give {@link mamba2Config}; the rest have transformers' defaults. */
export type Mamba2ConfigInput = Pick<
  Mamba2Config,
  "vocab_size" | "hidden_size" | "num_hidden_layers"
> &
  Partial<Mamba2Config>;

export const MAMBA2_CONFIG_KEYS: readonly (keyof Mamba2Config)[] = [
  ...MAMBA_SHARED_HEAD_KEYS,
  "num_heads",
  "head_dim",
  "n_groups",
  "chunk_size",
  ...MAMBA_SHARED_TAIL_KEYS,
  "time_step_limit",
];

const { used, harmless, refused } = tableEntry;

/**
 * Config fields by table (see `checkpoint/config-fields.ts`) for `Mamba2ForCausalLM`: every field
 * of transformers 4.x's and 5.x's `Mamba2Config` and its base class, as `loadMamba2Checkpoint` and
 * `saveMamba2Checkpoint` treat it.
 */
export const MAMBA2_CONFIG_TABLE: ConfigFieldTable = {
  ...BASE_CONFIG_FIELDS,
  // The fields Mamba-1's config has too, with the same meaning.
  ...pick(MAMBA_CONFIG_TABLE, [
    "vocab_size",
    "hidden_size",
    "conv_kernel",
    "use_bias",
    "use_conv_bias",
    "residual_in_fp32",
    "tie_word_embeddings",
    "initializer_range",
    "time_step_min",
    "time_step_max",
    "time_step_floor",
    "rescale_prenorm_residual",
  ]),
  architectures: { ...BASE_CONFIG_FIELDS.architectures, saved: ["Mamba2ForCausalLM"] },
  model_type: refused("string", "the architecture", ["mamba2", null], "mamba2"),
  state_size: used("int", "N, the SSM state per head channel"),
  num_hidden_layers: used("int", "the number of Mamba-2 blocks"),
  expand: used("int", "E / d_model, with E = num_heads · head_dim"),
  num_heads: used("int", "H, the heads (one scalar A and one Δ each)"),
  head_dim: used("int", "P, the channels of a head"),
  n_groups: used("int", "G, the groups of B and C"),
  chunk_size: used(
    "int",
    "Q of the chunked SSD algorithm; the output is the same up to rounding for any Q",
  ),
  layer_norm_epsilon: used("float", "ε of every RMSNorm, the gated one included"),
  time_step_limit: used("list", "[min, max] that Δ is clamped to; [0, ∞] clamps nothing"),
  hidden_act: refused("string", "the activation after the conv", ["silu"], "silu"),
  pad_token_id: harmless(
    "any",
    "the tokenizer's padding id; Mamba2ForCausalLM's embedding has no padding_idx, so every row gets its gradient",
  ),
  time_step_rank: harmless(
    "any",
    "Mamba-1's rank of Δ's projection; Mamba-2 takes Δ straight from in_proj",
  ),
  rms_norm: harmless(
    "bool",
    "whether the gated RMSNorm is on; transformers 4.x stores it but applies the norm whatever it holds (5.x dropped the field), and so does lib",
    "4.x",
  ),
};

function pick(table: ConfigFieldTable, keys: string[]): ConfigFieldTable {
  return Object.fromEntries(keys.map((k) => [k, table[k]]));
}

const MAMBA2_CONFIG = schema.options(
  {
    ...MAMBA_SHARED_HEAD_FIELDS,
    num_heads: schema.optional(schema.integer({ min: 1, max: MAMBA_MAX_DIM })),
    head_dim: schema.optional(schema.integer({ min: 1, max: MAMBA_MAX_DIM })),
    n_groups: schema.optional(schema.integer({ min: 1, max: MAMBA_MAX_DIM })),
    chunk_size: schema.optional(schema.integer({ min: 1, max: 4096 })),
    ...MAMBA_SHARED_TAIL_FIELDS,
    // Checked below (two numbers, min ≤ max; max may be Infinity).
    time_step_limit: schema.optional(schema.present<[number, number]>()),
  },
  "a Mamba2Config",
);

/**
 * A complete, validated {@link Mamba2Config} from the given fields and transformers'
 * `Mamba2Config` defaults: state_size 128, expand 2, conv_kernel 4, head_dim 64, num_heads
 * expand · hidden_size / head_dim (transformers' 128 at its default sizes), n_groups 8,
 * chunk_size 256, layer_norm_epsilon 1e-5, use_bias false, use_conv_bias true,
 * residual_in_fp32 true, tie_word_embeddings false, time_step_limit [0, ∞]. Refused, naming the
 * field: num_heads · head_dim ≠ expand · hidden_size (transformers refuses it too), n_groups not
 * dividing num_heads, unknown keys. `fn` names the caller in errors, `arg` the argument.
 */
export function mamba2Config(
  input: Mamba2ConfigInput,
  fn = "mamba2Config",
  arg = "config",
): Mamba2Config {
  const c = checkOptions(fn, arg, input, MAMBA2_CONFIG);
  const d = c.hidden_size!;
  const expand = c.expand ?? 2;
  const E = expand * d;
  const headDim = c.head_dim ?? 64;
  const heads = c.num_heads ?? E / headDim;
  if (!Number.isInteger(heads) || heads * headDim !== E) {
    const field = c.num_heads === undefined ? "head_dim" : "num_heads";
    throw argumentError(
      fn,
      `${arg}.${field}`,
      `num_heads · head_dim = expand · hidden_size = ${expand} · ${d} = ${E} (got num_heads ${c.num_heads ?? "absent"}, head_dim ${headDim})`,
    );
  }
  const groups = c.n_groups ?? 8;
  if (heads % groups !== 0)
    throw argumentError(
      fn,
      `${arg}.n_groups`,
      `a divisor of num_heads = ${heads} (each group's B and C serve num_heads / n_groups heads) (got ${groups})`,
    );
  const limit = c.time_step_limit ?? [0, Infinity];
  if (
    !Array.isArray(limit) ||
    limit.length !== 2 ||
    limit.some((v) => typeof v !== "number" || Number.isNaN(v)) ||
    !(limit[0] >= 0 && limit[0] <= limit[1] && Number.isFinite(limit[0]))
  )
    throw argumentError(
      fn,
      `${arg}.time_step_limit`,
      `[min, max] with 0 ≤ min ≤ max (max may be Infinity) (got ${describe(limit)})`,
    );
  return {
    vocab_size: c.vocab_size!,
    hidden_size: d,
    state_size: c.state_size ?? 128,
    num_hidden_layers: c.num_hidden_layers!,
    expand,
    conv_kernel: c.conv_kernel ?? 4,
    num_heads: heads,
    head_dim: headDim,
    n_groups: groups,
    chunk_size: c.chunk_size ?? 256,
    ...mambaSharedTailDefaults(c),
    tie_word_embeddings: c.tie_word_embeddings ?? false,
    time_step_limit: [limit[0], limit[1]],
  };
}

/** E = expand · hidden_size = num_heads · head_dim, and the conv's channels E + 2·G·N. */
export function mamba2Widths(c: Mamba2Config): { inner: number; convDim: number } {
  const inner = c.expand * c.hidden_size;
  return { inner, convDim: inner + 2 * c.n_groups * c.state_size };
}

/**
 * Every parameter of a `Mamba2ForCausalLM` with its shape, in the Hugging Face checkpoint's names
 * and layouts (d = hidden_size, E = expand · d, H = num_heads, G = n_groups, N = state_size,
 * k = conv_kernel, V = vocab_size, conv channels E + 2GN):
 *
 *   backbone.embeddings.weight (V, d)
 *   backbone.layers.{i}.norm.weight (d)
 *   backbone.layers.{i}.mixer.in_proj.weight (2E + 2GN + H, d)  [+ in_proj.bias if use_bias]
 *   backbone.layers.{i}.mixer.conv1d.weight (E + 2GN, 1, k)     [+ conv1d.bias if use_conv_bias]
 *   backbone.layers.{i}.mixer.dt_bias (H), A_log (H), D (H)
 *   backbone.layers.{i}.mixer.norm.weight (E)                   the gated RMSNorm
 *   backbone.layers.{i}.mixer.out_proj.weight (d, E)            [+ out_proj.bias (d) if use_bias]
 *   backbone.norm_f.weight (d)
 *   lm_head.weight (V, d) only when tie_word_embeddings is false
 */
export function mamba2ParamShapes(config: Mamba2Config): Map<string, number[]> {
  const H = config.num_heads;
  const { inner: E, convDim } = mamba2Widths(config);
  return mambaFamilyParamShapes(config, { proj: E + convDim + H, convDim, inner: E }, () => [
    ["dt_bias", [H]],
    ["A_log", [H]],
    ["D", [H]],
    ["norm.weight", [E]],
  ]);
}

/** Total number of parameters (tied head counted once). */
export function mamba2ParamCount(config: Mamba2Config): number {
  return paramCountOfShapes(mamba2ParamShapes(config));
}
