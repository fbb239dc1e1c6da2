/**
 * The configuration of a Mamba language model, with the field names of Hugging Face
 * `transformers`' `MambaConfig` (what `config.json` of a `MambaForCausalLM` checkpoint holds), and
 * the parameter names and shapes it implies.
 */
import { argumentError, checkArg, checkOptions, schema } from "../validate";
import { BASE_CONFIG_FIELDS, type ConfigFieldTable, tableEntry } from "../checkpoint/config-fields";

/** A Mamba LM's hyperparameters (Hugging Face `MambaConfig` names). */
export interface MambaConfig {
  /** Vocabulary size V (rows of the embedding). */
  vocab_size: number;
  /** Model width d_model. */
  hidden_size: number;
  /** SSM state size N per channel (d_state). Default 16. */
  state_size: number;
  /** Number of Mamba blocks. */
  num_hidden_layers: number;
  /** d_inner / d_model. Default 2. */
  expand: number;
  /** Causal conv width d_conv. Default 4. */
  conv_kernel: number;
  /** Rank of Δ's low-rank projection, dt_rank. Default ⌈d_model / 16⌉. */
  time_step_rank: number;
  /** d_inner = expand · d_model. */
  intermediate_size: number;
  /** RMSNorm epsilon. Default 1e-5. */
  layer_norm_epsilon: number;
  /** Biases on in_proj and out_proj. Default false. */
  use_bias: boolean;
  /** Bias on the conv. Default true. */
  use_conv_bias: boolean;
  /** Keep the residual stream in float32 (ours is always float32). Default true. */
  residual_in_fp32: boolean;
  /** The output head reuses the embedding matrix. Default true. */
  tie_word_embeddings: boolean;
}

/** The fields a caller must give {@link mambaConfig}; the rest have upstream defaults. */
export type MambaConfigInput = Pick<
  MambaConfig,
  "vocab_size" | "hidden_size" | "num_hidden_layers"
> &
  Partial<MambaConfig>;

/**
 * The config keys Mamba and Mamba-2 share, as the two key lists open (`HEAD`) and close (`TAIL`,
 * Mamba-2 adds time_step_limit after it), each model's own keys standing between.
 */
export const MAMBA_SHARED_HEAD_KEYS = [
  "vocab_size",
  "hidden_size",
  "state_size",
  "num_hidden_layers",
  "expand",
  "conv_kernel",
] as const;
export const MAMBA_SHARED_TAIL_KEYS = [
  "layer_norm_epsilon",
  "use_bias",
  "use_conv_bias",
  "residual_in_fp32",
  "tie_word_embeddings",
] as const;

export const MAMBA_CONFIG_KEYS: readonly (keyof MambaConfig)[] = [
  ...MAMBA_SHARED_HEAD_KEYS,
  "time_step_rank",
  "intermediate_size",
  ...MAMBA_SHARED_TAIL_KEYS,
];

const { used, harmless, refused } = tableEntry;

/**
 * Config fields by table (see `checkpoint/config-fields.ts`) for `MambaForCausalLM`: every field
 * of transformers 4.x's and 5.x's `MambaConfig` and its base class, as `loadMambaCheckpoint`
 * and `saveMambaCheckpoint` treat it. Fields in no table are kept, among them lib's own
 * `mamba_ts_variant` (the mixer variant of the Table 1 checkpoints, read by the training code).
 */
export const MAMBA_CONFIG_TABLE: ConfigFieldTable = {
  ...BASE_CONFIG_FIELDS,
  architectures: { ...BASE_CONFIG_FIELDS.architectures, saved: ["MambaForCausalLM"] },
  model_type: refused("string", "the architecture", ["mamba", null], "mamba"),
  vocab_size: used("int", "V, rows of the embedding"),
  hidden_size: used("int", "d_model"),
  state_size: used("int", "N, the SSM state per channel"),
  num_hidden_layers: used("int", "the number of Mamba blocks"),
  expand: used("int", "d_inner / d_model"),
  conv_kernel: used("int", "the causal conv's width"),
  time_step_rank: used("any", 'the rank of Δ\'s projection, or "auto" for ⌈d_model / 16⌉'),
  intermediate_size: used(
    "int",
    "d_inner; transformers derives it as expand · hidden_size, so another value is refused as corrupt",
  ),
  layer_norm_epsilon: used("float", "ε of every RMSNorm"),
  use_bias: used("bool", "biases on in_proj and out_proj"),
  use_conv_bias: used("bool", "a bias on the conv"),
  residual_in_fp32: used(
    "bool",
    "keep the residual stream in float32; lib computes in float32 throughout, so both values give the same maths",
  ),
  tie_word_embeddings: used("bool", "the output head reuses the embedding"),
  hidden_act: refused("string", "the activation after the conv and on the gate", ["silu"], "silu"),
  pad_token_id: harmless(
    "any",
    "the tokenizer's padding id; MambaForCausalLM's embedding has no padding_idx, so every row gets its gradient",
  ),
  initializer_range: harmless("float", "the std of the random initialisation; read only at init"),
  time_step_scale: harmless("float", "scales dt_proj's initial weights; read only at init"),
  time_step_min: harmless("float", "range of Δ's initial values; read only at init"),
  time_step_max: harmless("float", "range of Δ's initial values; read only at init"),
  time_step_floor: harmless("float", "floor of Δ's initial values; read only at init"),
  time_step_init_scheme: harmless("string", "how dt_proj is initialised; read only at init"),
  rescale_prenorm_residual: harmless("bool", "scales out_proj at init; read only at init"),
  use_mambapy: harmless(
    "bool",
    "which PyTorch implementation of the same scan transformers runs without CUDA kernels",
  ),
  use_associative_scan: harmless(
    "bool",
    "whether torch.compile traces the same scan as an associative scan",
    "5.x",
  ),
};

/** Largest sizes accepted, so that a typo does not try to allocate terabytes. */
export const MAMBA_MAX_DIM = 1 << 16;
const MAX_VOCAB = 1 << 20;

/** The schemas of {@link MAMBA_SHARED_HEAD_KEYS}, with their bounds (Mamba-2's too). */
export const MAMBA_SHARED_HEAD_FIELDS = {
  vocab_size: schema.integer({ min: 1, max: MAX_VOCAB }),
  hidden_size: schema.integer({ min: 1, max: MAMBA_MAX_DIM }),
  state_size: schema.optional(schema.integer({ min: 1, max: 1024 })),
  num_hidden_layers: schema.integer({ min: 1, max: 1024 }),
  expand: schema.optional(schema.integer({ min: 1, max: 64 })),
  conv_kernel: schema.optional(schema.integer({ min: 1, max: 64 })),
};

/** The schemas of {@link MAMBA_SHARED_TAIL_KEYS} (Mamba-2's too). */
export const MAMBA_SHARED_TAIL_FIELDS = {
  layer_norm_epsilon: schema.optional(schema.positive()),
  use_bias: schema.optional(schema.boolean()),
  use_conv_bias: schema.optional(schema.boolean()),
  residual_in_fp32: schema.optional(schema.boolean()),
  tie_word_embeddings: schema.optional(schema.boolean()),
};

/**
 * The values of the {@link MAMBA_SHARED_TAIL_KEYS} but tie_word_embeddings (whose default differs)
 * from checked fields, with the default both models share: layer_norm_epsilon 1e-5, use_bias false,
 * use_conv_bias true, residual_in_fp32 true.
 */
export function mambaSharedTailDefaults(c: {
  layer_norm_epsilon?: number;
  use_bias?: boolean;
  use_conv_bias?: boolean;
  residual_in_fp32?: boolean;
}): Pick<MambaConfig, "layer_norm_epsilon" | "use_bias" | "use_conv_bias" | "residual_in_fp32"> {
  return {
    layer_norm_epsilon: c.layer_norm_epsilon ?? 1e-5,
    use_bias: c.use_bias ?? false,
    use_conv_bias: c.use_conv_bias ?? true,
    residual_in_fp32: c.residual_in_fp32 ?? true,
  };
}

const TIME_STEP_RANK = schema.integer({ min: 1, max: MAMBA_MAX_DIM });

/** The fields of a {@link MambaConfigInput}, in MAMBA_CONFIG_KEYS order, with their bounds. */
const MAMBA_CONFIG = schema.options(
  {
    ...MAMBA_SHARED_HEAD_FIELDS,
    // An integer, or "auto" (⌈hidden_size / 16⌉), checked once the default is known.
    time_step_rank: schema.optional(schema.present<number | "auto">()),
    intermediate_size: schema.optional(schema.integer({ min: 1, max: MAMBA_MAX_DIM * 64 })),
    ...MAMBA_SHARED_TAIL_FIELDS,
  },
  "a MambaConfig",
);

/**
 * A complete, validated {@link MambaConfig} from the given fields and upstream's defaults
 * (`mamba_simple.py` / HF `MambaConfig`): state_size 16, expand 2, conv_kernel 4,
 * time_step_rank ⌈hidden_size / 16⌉ (also for `"auto"`), intermediate_size expand·hidden_size,
 * layer_norm_epsilon 1e-5, use_bias false, use_conv_bias true, residual_in_fp32 true,
 * tie_word_embeddings true. Unknown keys are refused (`fn` names the caller in errors, `arg` the argument holding
 * the fields).
 */
export function mambaConfig(
  input: MambaConfigInput,
  fn = "mambaConfig",
  arg = "config",
): MambaConfig {
  const c = checkOptions(fn, arg, input, MAMBA_CONFIG);
  const d = c.hidden_size!;
  const expand = c.expand ?? 2;
  const rankIn = c.time_step_rank;
  const rank = checkArg(
    fn,
    `${arg}.time_step_rank`,
    rankIn === undefined || rankIn === null || rankIn === "auto" ? Math.ceil(d / 16) : rankIn,
    TIME_STEP_RANK,
  );
  const inner = c.intermediate_size ?? expand * d;
  if (inner !== expand * d) {
    throw argumentError(
      fn,
      `${arg}.intermediate_size`,
      `expand · hidden_size = ${expand} · ${d} = ${expand * d} (got ${inner})`,
    );
  }
  return {
    vocab_size: c.vocab_size!,
    hidden_size: d,
    state_size: c.state_size ?? 16,
    num_hidden_layers: c.num_hidden_layers!,
    expand,
    conv_kernel: c.conv_kernel ?? 4,
    time_step_rank: rank,
    intermediate_size: inner,
    ...mambaSharedTailDefaults(c),
    tie_word_embeddings: c.tie_word_embeddings ?? true,
  };
}

/** The checkpoint name prefix of layer i's mixer: `backbone.layers.{i}.mixer.`. */
export function mixerPrefix(i: number): string {
  return `backbone.layers.${i}.mixer.`;
}

/**
 * The config fields that decide which tensors a Mamba or Mamba-2 checkpoint holds (beside the
 * sizes that shape them), as errors about an unexpected tensor quote them.
 */
export const MAMBA_TENSOR_SWITCHES = [
  "num_hidden_layers",
  "use_bias",
  "use_conv_bias",
  "tie_word_embeddings",
] as const;

/**
 * Every parameter of a `MambaForCausalLM` with its shape, in the Hugging Face checkpoint's names
 * and layouts (d = hidden_size, E = intermediate_size, N = state_size, R = time_step_rank,
 * k = conv_kernel, V = vocab_size):
 *
 *   backbone.embeddings.weight (V, d)
 *   backbone.layers.{i}.norm.weight (d)
 *   backbone.layers.{i}.mixer.in_proj.weight (2E, d)   [+ in_proj.bias (2E) if use_bias]
 *   backbone.layers.{i}.mixer.conv1d.weight (E, 1, k)  [+ conv1d.bias (E) if use_conv_bias]
 *   backbone.layers.{i}.mixer.x_proj.weight (R + 2N, E)
 *   backbone.layers.{i}.mixer.dt_proj.weight (E, R), dt_proj.bias (E)
 *   backbone.layers.{i}.mixer.A_log (E, N), D (E)
 *   backbone.layers.{i}.mixer.out_proj.weight (d, E)   [+ out_proj.bias (d) if use_bias]
 *   backbone.norm_f.weight (d)
 *   lm_head.weight (V, d) only when tie_word_embeddings is false
 */
export function mambaParamShapes(config: MambaConfig): Map<string, number[]> {
  const { intermediate_size: E, state_size: N, time_step_rank: R } = config;
  return mambaFamilyParamShapes(config, { proj: 2 * E, convDim: E, inner: E }, () => [
    ["x_proj.weight", [R + 2 * N, E]],
    ["dt_proj.weight", [E, R]],
    ["dt_proj.bias", [E]],
    ["A_log", [E, N]],
    ["D", [E]],
  ]);
}

/**
 * The parameter shapes a Mamba and a Mamba-2 LM share the layout of, in checkpoint order: the
 * embedding; per layer the norm, in_proj (`proj` rows), conv1d (`convDim` channels), the mixer's
 * own parameters (`own`, named after the mixer prefix), out_proj (from `inner` channels), each
 * bias as the config asks; the final norm and the head when untied.
 */
export function mambaFamilyParamShapes(
  config: Pick<
    MambaConfig,
    | "vocab_size"
    | "hidden_size"
    | "num_hidden_layers"
    | "conv_kernel"
    | "use_bias"
    | "use_conv_bias"
    | "tie_word_embeddings"
  >,
  sizes: { proj: number; convDim: number; inner: number },
  own: () => [string, number[]][],
): Map<string, number[]> {
  const d = config.hidden_size;
  const { proj, convDim, inner } = sizes;
  const shapes = new Map<string, number[]>();
  shapes.set("backbone.embeddings.weight", [config.vocab_size, d]);
  for (let i = 0; i < config.num_hidden_layers; i++) {
    const m = mixerPrefix(i);
    shapes.set(`backbone.layers.${i}.norm.weight`, [d]);
    shapes.set(m + "in_proj.weight", [proj, d]);
    if (config.use_bias) shapes.set(m + "in_proj.bias", [proj]);
    shapes.set(m + "conv1d.weight", [convDim, 1, config.conv_kernel]);
    if (config.use_conv_bias) shapes.set(m + "conv1d.bias", [convDim]);
    for (const [name, shape] of own()) shapes.set(m + name, shape);
    shapes.set(m + "out_proj.weight", [d, inner]);
    if (config.use_bias) shapes.set(m + "out_proj.bias", [d]);
  }
  shapes.set("backbone.norm_f.weight", [d]);
  if (!config.tie_word_embeddings) shapes.set("lm_head.weight", [config.vocab_size, d]);
  return shapes;
}

/** The number of parameters of the given shapes. */
export function paramCountOfShapes(shapes: Map<string, number[]>): number {
  let total = 0;
  for (const s of shapes.values()) total += s.reduce((a, b) => a * b, 1);
  return total;
}

/** Total number of parameters (tied head counted once). */
export function mambaParamCount(config: MambaConfig): number {
  return paramCountOfShapes(mambaParamShapes(config));
}
