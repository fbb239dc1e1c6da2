/**
 * The configuration of the Transformer++ baseline (the LLaMA recipe: pre-RMSNorm, rotary position
 * embeddings, SwiGLU MLP, no biases, grouped-query attention allowed), with the field names of
 * Hugging Face `transformers`' `LlamaConfig`, so that a `config.json` written here loads as a
 * `LlamaForCausalLM` and the other way round.
 */
import { argumentError, checkArg, describe, schema } from "../validate";
import {
  BASE_CONFIG_FIELDS,
  type ConfigFieldTable,
  keptFields,
  refusedFieldError,
  tableEntry,
} from "../checkpoint/config-fields";

/** The fields of a `LlamaForCausalLM` `config.json` that this model reads (HF's names). */
export interface LlamaConfig {
  /** Number of token ids. */
  vocab_size: number;
  /** Width of the residual stream, d. */
  hidden_size: number;
  /** Width of the SwiGLU MLP's hidden layer. */
  intermediate_size: number;
  /** Number of decoder layers. */
  num_hidden_layers: number;
  /** Number of query heads, H. */
  num_attention_heads: number;
  /** Number of key/value heads, H_kv (H_kv < H is grouped-query attention; H must be a multiple). */
  num_key_value_heads: number;
  /** Width of one head (even, for RoPE); hidden_size / num_attention_heads unless given. */
  head_dim: number;
  /** RoPE base θ: inv_freq_i = 1 / θ^(2i / head_dim). */
  rope_theta: number;
  /** ε of every RMSNorm. */
  rms_norm_eps: number;
  /** Longest sequence the model is meant for (recorded, not enforced: attention has no limit). */
  max_position_embeddings: number;
  /** Whether the output head reuses `model.embed_tokens.weight` (then no `lm_head.weight`). */
  tie_word_embeddings: boolean;
  /** Standard deviation of the normal initialisation of every weight matrix. */
  initializer_range: number;
  /**
   * The padding token id, or null. As in HF's `LlamaModel` (`nn.Embedding(..., padding_idx =
   * pad_token_id)`), that row of the embedding gets no gradient from the lookup and starts at
   * zero; a negative id counts from the end of the vocabulary, as PyTorch's padding_idx does.
   */
  pad_token_id: number | null;
}

/** The fields a caller must give; the rest have HF's defaults. */
const REQUIRED = [
  "vocab_size",
  "hidden_size",
  "intermediate_size",
  "num_hidden_layers",
  "num_attention_heads",
] as const;

/** Every field of {@link LlamaConfig}, in the order `config.json` is written. */
export const LLAMA_CONFIG_FIELDS: readonly (keyof LlamaConfig)[] = [
  ...REQUIRED,
  "num_key_value_heads",
  "head_dim",
  "rope_theta",
  "rms_norm_eps",
  "max_position_embeddings",
  "tie_word_embeddings",
  "initializer_range",
  "pad_token_id",
];

const { used, harmless, refused } = tableEntry;

/**
 * Config fields by table (see `checkpoint/config-fields.ts`) for `LlamaForCausalLM`: every field
 * of transformers 4.x's and 5.x's `LlamaConfig` and its base class, as
 * `loadTransformerCheckpoint` and `saveTransformerCheckpoint` treat it.
 *
 * RoPE's base θ comes, as transformers 5 reads it, from `rope_scaling` (4.x) when set, else
 * `rope_parameters` (5.x), else top-level `rope_theta` (4.x), else 10000; a save writes both
 * `rope_parameters` (5.x) and `rope_theta` (what 4.x reads). Only plain RoPE is implemented: a
 * `rope_type` other than "default" (llama3, linear, dynamic, yarn, longrope rescale the
 * frequencies), a `partial_rotary_factor` other than 1, or any other key in the RoPE object is
 * refused naming the field and its value.
 */
export const LLAMA_CONFIG_TABLE: ConfigFieldTable = {
  ...BASE_CONFIG_FIELDS,
  architectures: { ...BASE_CONFIG_FIELDS.architectures, saved: ["LlamaForCausalLM"] },
  model_type: refused("string", "the architecture", ["llama", null], "llama"),
  vocab_size: used("int", "the number of token ids"),
  hidden_size: used("int", "the width d of the residual stream"),
  intermediate_size: used("int", "the width of the SwiGLU MLP"),
  num_hidden_layers: used("int", "the number of decoder layers"),
  num_attention_heads: used("int", "H, the query heads"),
  num_key_value_heads: used("int", "H_kv, the key/value heads (grouped-query attention); null: H"),
  head_dim: used("int", "the width of one head; null: hidden_size / num_attention_heads"),
  rms_norm_eps: used("float", "ε of every RMSNorm"),
  max_position_embeddings: used("int", "the longest sequence trained on (recorded)"),
  tie_word_embeddings: used("bool", "the output head reuses the embedding"),
  initializer_range: used("float", "the std of initTransformer's normal initialisation"),
  pad_token_id: used(
    "any",
    "the embedding's padding_idx: that row gets no gradient from the lookup and starts at zero",
  ),
  rope_parameters: used("any", 'RoPE: rope_theta is read; rope_type must be "default"', "5.x"),
  rope_scaling: used(
    "any",
    "4.x's RoPE scaling object, read like rope_parameters; null: none",
    "4.x",
  ),
  rope_theta: used("float", "4.x's RoPE base θ", "4.x"),
  partial_rotary_factor: refused("float", "RoPE on the whole head", [1, null]),
  hidden_act: refused("string", "the MLP's activation", ["silu"], "silu"),
  attention_bias: refused("bool", "q/k/v/o projections without bias", [false], false),
  mlp_bias: refused("bool", "MLP projections without bias", [false], false),
  attention_dropout: refused(
    "float",
    "attention without dropout (transformers drops attention weights while training)",
    [0, null],
    0,
  ),
  pretraining_tp: harmless(
    "int",
    "4.x split the projections into this many slices and summed them: the same maths; 5.x ignores it",
  ),
};

/** The keys a RoPE object (rope_parameters, rope_scaling) may hold for plain RoPE. */
const ROPE_KEYS = ["rope_type", "type", "rope_theta", "partial_rotary_factor"];

/** Sizes beyond these are refused as runaway (they could not be allocated anyway). */
const MAX_WIDTH = 1 << 16;
const MAX_VOCAB = 1 << 20;
const MAX_LAYERS = 1024;

/**
 * A complete, checked {@link LlamaConfig} from the fields a caller gives. Defaults as HF's
 * `LlamaConfig`: num_key_value_heads = num_attention_heads, head_dim = hidden_size /
 * num_attention_heads, rope_theta = 10000, rms_norm_eps = 1e-6, max_position_embeddings = 2048,
 * tie_word_embeddings = false, initializer_range = 0.02.
 *
 * @param fields at least vocab_size, hidden_size, intermediate_size, num_hidden_layers,
 *   num_attention_heads; unknown keys are refused (a typo would silently fall back to a default)
 */
export function llamaConfig(fields: Partial<LlamaConfig>): LlamaConfig {
  return checkLlamaConfig("llamaConfig", "fields", fields, { allowUnknown: false }).config;
}

/**
 * Checks a configuration object. `fn` names the function the user called, `what` the argument
 * or file. Without `allowUnknown` only the {@link LlamaConfig} fields are accepted (and HF's
 * fields that change the maths, at the one value this model implements: `hidden_act: "silu"`).
 * With it
 * (reading a `config.json`), the fields are read as {@link LLAMA_CONFIG_TABLE} says: a refused
 * field holding a value this model does not implement is an error naming field and value, RoPE's
 * θ is found in rope_scaling / rope_parameters / rope_theta, and the fields the model does not
 * read are returned in `extra` so that a save writes them back.
 */
export function checkLlamaConfig(
  fn: string,
  what: string,
  fields: unknown,
  { allowUnknown }: { allowUnknown: boolean },
): { config: LlamaConfig; extra: Record<string, unknown> } {
  if (fields === null || typeof fields !== "object" || Array.isArray(fields)) {
    throw new Error(
      `${fn}: argument '${what}' must be an object with the LlamaConfig fields (${REQUIRED.join(", ")}, ...) (got ${describe(fields)})`,
    );
  }
  let f = fields as Record<string, unknown>;
  let extra: Record<string, unknown> = {};
  if (allowUnknown) {
    const refusal = refusedFieldError(fn, what, LLAMA_CONFIG_TABLE, f);
    if (refusal) throw refusal;
    const theta = ropeTheta(fn, what, f);
    extra = keptFields(LLAMA_CONFIG_TABLE, f);
    const read: Record<string, unknown> = {};
    for (const key of LLAMA_CONFIG_FIELDS) if (f[key] !== undefined) read[key] = f[key];
    if (theta !== undefined) read.rope_theta = theta;
    f = read;
  } else {
    // HF's fields that only state what this model implements ("silu", no biases) may be given.
    const refusal = refusedFieldError(fn, what, LLAMA_CONFIG_TABLE, f);
    if (refusal) throw refusal;
    for (const key of Object.keys(f)) {
      if (LLAMA_CONFIG_TABLE[key]?.use === "refused") continue;
      if (!(LLAMA_CONFIG_FIELDS as readonly string[]).includes(key)) {
        throw new Error(
          `${fn}: argument '${what}' must be an object with only the fields ${LLAMA_CONFIG_FIELDS.join(", ")} (got an unknown field "${key}")`,
        );
      }
    }
  }
  for (const key of REQUIRED) {
    if (f[key] === undefined) {
      throw new Error(
        `${fn}: argument '${what}' must be an object with the required fields ${REQUIRED.join(", ")} (got no field "${key}")`,
      );
    }
  }
  const field = (key: string): string => `${what}.${key}`;
  const int = (key: string, value: unknown, min: number, max?: number): number =>
    checkArg(fn, field(key), value, schema.integer({ min, max }));
  const positive = (key: string, value: unknown): number =>
    checkArg(fn, field(key), value, schema.positive());
  const vocab = int("vocab_size", f.vocab_size, 1, MAX_VOCAB);
  const hidden = int("hidden_size", f.hidden_size, 1, MAX_WIDTH);
  const inter = int("intermediate_size", f.intermediate_size, 1, 4 * MAX_WIDTH);
  const layers = int("num_hidden_layers", f.num_hidden_layers, 0, MAX_LAYERS);
  const heads = int("num_attention_heads", f.num_attention_heads, 1, hidden);
  const kvHeads = int("num_key_value_heads", f.num_key_value_heads ?? heads, 1, heads);
  if (heads % kvHeads !== 0) {
    throw argumentError(
      fn,
      field("num_key_value_heads"),
      `a divisor of num_attention_heads (${heads}) for grouped-query attention (got ${kvHeads})`,
    );
  }
  let headDim: number;
  if (f.head_dim === undefined || f.head_dim === null) {
    if (hidden % heads !== 0) {
      throw argumentError(
        fn,
        field("head_dim"),
        `given when hidden_size (${hidden}) is not a multiple of num_attention_heads (${heads}) (got none)`,
      );
    }
    headDim = hidden / heads;
  } else {
    headDim = int("head_dim", f.head_dim, 2, MAX_WIDTH);
  }
  if (headDim % 2 !== 0) {
    throw argumentError(
      fn,
      field("head_dim"),
      `an even number (RoPE rotates the two halves of each head) (got ${headDim})`,
    );
  }
  const config: LlamaConfig = {
    vocab_size: vocab,
    hidden_size: hidden,
    intermediate_size: inter,
    num_hidden_layers: layers,
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    head_dim: headDim,
    rope_theta: positive("rope_theta", f.rope_theta ?? 10000),
    rms_norm_eps: positive("rms_norm_eps", f.rms_norm_eps ?? 1e-6),
    max_position_embeddings: int("max_position_embeddings", f.max_position_embeddings ?? 2048, 1),
    tie_word_embeddings: checkArg(
      fn,
      field("tie_word_embeddings"),
      f.tie_word_embeddings ?? false,
      schema.boolean(),
    ),
    initializer_range: positive("initializer_range", f.initializer_range ?? 0.02),
    pad_token_id:
      f.pad_token_id === undefined || f.pad_token_id === null
        ? null
        : int("pad_token_id", f.pad_token_id, -vocab, vocab - 1),
  };
  return { config, extra };
}

/**
 * RoPE's base θ from a config.json object as transformers 5 reads it (`rope_scaling` when set,
 * else `rope_parameters`, else top-level `rope_theta`; undefined: none, the default applies),
 * refusing every setting of those objects that is not plain RoPE.
 */
function ropeTheta(fn: string, what: string, f: Record<string, unknown>): unknown {
  const name =
    f.rope_scaling !== undefined && f.rope_scaling !== null ? "rope_scaling" : "rope_parameters";
  const rope = f[name];
  if (rope === undefined || rope === null) return f.rope_theta;
  const arg = `${fn}: argument '${what}.${name}`;
  if (typeof rope !== "object" || Array.isArray(rope)) {
    throw new Error(`${arg}' must be an object of RoPE settings or null (got ${describe(rope)})`);
  }
  const r = rope as Record<string, unknown>;
  const typeKey = r.rope_type !== undefined ? "rope_type" : "type";
  const type = r[typeKey] ?? "default";
  if (type !== "default") {
    throw new Error(
      `${arg}.${typeKey}' must be "default", the only RoPE lib implements (llama3, linear, dynamic, yarn and longrope rescale the rotary frequencies) (got ${JSON.stringify(type)})`,
    );
  }
  for (const key of Object.keys(r)) {
    if (!ROPE_KEYS.includes(key)) {
      throw new Error(
        `${arg}' must hold only ${ROPE_KEYS.join(", ")}, the settings of plain RoPE that lib implements (got ${key}: ${JSON.stringify(r[key])})`,
      );
    }
  }
  const partial = r.partial_rotary_factor;
  if (partial !== undefined && partial !== null && partial !== 1) {
    throw new Error(
      `${arg}.partial_rotary_factor' must be 1, the only value lib implements for RoPE on the whole head (got ${JSON.stringify(partial)})`,
    );
  }
  return r.rope_theta ?? f.rope_theta;
}

/**
 * The checkpoint tensors of a Transformer++ with this configuration, in `LlamaForCausalLM`'s
 * names and shapes (PyTorch's `nn.Linear` layout: weight (out, in)), in checkpoint order:
 *
 *   model.embed_tokens.weight                       (vocab, d)
 *   model.layers.{i}.input_layernorm.weight         (d)
 *   model.layers.{i}.self_attn.q_proj.weight        (H · head_dim, d)
 *   model.layers.{i}.self_attn.k_proj.weight        (H_kv · head_dim, d)
 *   model.layers.{i}.self_attn.v_proj.weight        (H_kv · head_dim, d)
 *   model.layers.{i}.self_attn.o_proj.weight        (d, H · head_dim)
 *   model.layers.{i}.post_attention_layernorm.weight (d)
 *   model.layers.{i}.mlp.gate_proj.weight           (intermediate, d)
 *   model.layers.{i}.mlp.up_proj.weight             (intermediate, d)
 *   model.layers.{i}.mlp.down_proj.weight           (d, intermediate)
 *   model.norm.weight                               (d)
 *   lm_head.weight                                  (vocab, d), absent when tie_word_embeddings
 */
export function transformerParamShapes(config: LlamaConfig): Map<string, number[]> {
  const d = config.hidden_size;
  const qWidth = config.num_attention_heads * config.head_dim;
  const kvWidth = config.num_key_value_heads * config.head_dim;
  const inter = config.intermediate_size;
  const shapes = new Map<string, number[]>();
  shapes.set("model.embed_tokens.weight", [config.vocab_size, d]);
  for (let i = 0; i < config.num_hidden_layers; i++) {
    const p = `model.layers.${i}.`;
    shapes.set(`${p}input_layernorm.weight`, [d]);
    shapes.set(`${p}self_attn.q_proj.weight`, [qWidth, d]);
    shapes.set(`${p}self_attn.k_proj.weight`, [kvWidth, d]);
    shapes.set(`${p}self_attn.v_proj.weight`, [kvWidth, d]);
    shapes.set(`${p}self_attn.o_proj.weight`, [d, qWidth]);
    shapes.set(`${p}post_attention_layernorm.weight`, [d]);
    shapes.set(`${p}mlp.gate_proj.weight`, [inter, d]);
    shapes.set(`${p}mlp.up_proj.weight`, [inter, d]);
    shapes.set(`${p}mlp.down_proj.weight`, [d, inter]);
  }
  shapes.set("model.norm.weight", [d]);
  if (!config.tie_word_embeddings) shapes.set("lm_head.weight", [config.vocab_size, d]);
  return shapes;
}

/** The number of parameters (tied embeddings counted once). */
export function transformerParamCount(config: LlamaConfig): number {
  let n = 0;
  for (const shape of transformerParamShapes(config).values()) {
    n += shape.reduce((a, b) => a * b, 1);
  }
  return n;
}
