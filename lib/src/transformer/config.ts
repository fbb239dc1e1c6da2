/**
 * The configuration of the Transformer++ baseline (the LLaMA recipe: pre-RMSNorm, rotary position
 * embeddings, SwiGLU MLP, no biases, grouped-query attention allowed), with the field names of
 * Hugging Face `transformers`' `LlamaConfig`, so that a `config.json` written here loads as a
 * `LlamaForCausalLM` and the other way round.
 */
import { assertInteger, assertPositive, describe, invalidArgument } from "../validate";

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
];

/**
 * HF settings that change the architecture into one this model does not implement, with the only
 * value accepted for each (a checkpoint carrying another value is refused rather than misread).
 */
const FIXED_HF_FIELDS: Record<string, unknown> = {
  hidden_act: "silu",
  attention_bias: false,
  mlp_bias: false,
  rope_scaling: null,
  pretraining_tp: 1,
};

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
 * or file. With `allowUnknown` (reading a `config.json`), fields this model does not read are
 * returned in `extra` so that saving writes them back; HF fields that would change the
 * architecture (see FIXED_HF_FIELDS) must still have the value this model implements.
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
  const f = fields as Record<string, unknown>;
  const extra: Record<string, unknown> = {};
  for (const key of Object.keys(f)) {
    if ((LLAMA_CONFIG_FIELDS as readonly string[]).includes(key)) continue;
    if (key in FIXED_HF_FIELDS) {
      const want = FIXED_HF_FIELDS[key];
      // null and absent mean the same thing for rope_scaling.
      if (f[key] !== want && !(want === null && f[key] === undefined)) {
        throw new Error(
          `${fn}: argument '${what}.${key}' must be ${JSON.stringify(want)}, the only value this Transformer++ implements (got ${JSON.stringify(f[key])})`,
        );
      }
    } else if (!allowUnknown) {
      throw new Error(
        `${fn}: argument '${what}' must be an object with only the fields ${LLAMA_CONFIG_FIELDS.join(", ")} (got an unknown field "${key}")`,
      );
    }
    extra[key] = f[key];
  }
  for (const key of REQUIRED) {
    if (f[key] === undefined) {
      throw new Error(
        `${fn}: argument '${what}' must be an object with the required fields ${REQUIRED.join(", ")} (got no field "${key}")`,
      );
    }
  }
  const field = (key: string): string => `${fn}: ${what}.${key}`;
  const vocab = assertInteger(field("vocab_size"), f.vocab_size, 1, MAX_VOCAB);
  const hidden = assertInteger(field("hidden_size"), f.hidden_size, 1, MAX_WIDTH);
  const inter = assertInteger(field("intermediate_size"), f.intermediate_size, 1, 4 * MAX_WIDTH);
  const layers = assertInteger(field("num_hidden_layers"), f.num_hidden_layers, 0, MAX_LAYERS);
  const heads = assertInteger(field("num_attention_heads"), f.num_attention_heads, 1, hidden);
  const kvHeads = assertInteger(
    field("num_key_value_heads"),
    f.num_key_value_heads ?? heads,
    1,
    heads,
  );
  if (heads % kvHeads !== 0) {
    throw invalidArgument(
      field("num_key_value_heads"),
      `a divisor of num_attention_heads (${heads}) for grouped-query attention (got ${kvHeads})`,
    );
  }
  let headDim: number;
  if (f.head_dim === undefined || f.head_dim === null) {
    if (hidden % heads !== 0) {
      throw invalidArgument(
        field("head_dim"),
        `given when hidden_size (${hidden}) is not a multiple of num_attention_heads (${heads}) (got none)`,
      );
    }
    headDim = hidden / heads;
  } else {
    headDim = assertInteger(field("head_dim"), f.head_dim, 2, MAX_WIDTH);
  }
  if (headDim % 2 !== 0) {
    throw invalidArgument(
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
    rope_theta: assertPositive(field("rope_theta"), f.rope_theta ?? 10000),
    rms_norm_eps: assertPositive(field("rms_norm_eps"), f.rms_norm_eps ?? 1e-6),
    max_position_embeddings: assertInteger(
      field("max_position_embeddings"),
      f.max_position_embeddings ?? 2048,
      1,
    ),
    tie_word_embeddings: checkBoolean(field("tie_word_embeddings"), f.tie_word_embeddings ?? false),
    initializer_range: assertPositive(field("initializer_range"), f.initializer_range ?? 0.02),
  };
  return { config, extra };
}

function checkBoolean(name: string, value: unknown): boolean {
  if (typeof value !== "boolean") {
    throw new Error(`${name}: expected true or false, got ${describe(value)}`);
  }
  return value;
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
