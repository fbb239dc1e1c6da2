/**
 * Config fields by table. A checkpoint's `config.json` holds every field its `transformers`
 * config class declares (and sometimes more); for each architecture one table lists every field
 * transformers 4.x and 5.x write, with what lib does with it:
 *
 * - **used**: read into the model's config (and written back on save);
 * - **harmless**: not read, because transformers computes the same logits and gradients whatever
 *   it holds (ids of special tokens, settings only the random initialisation reads, switches
 *   between implementations of the same maths); kept in the model's extra config and written
 *   back on save;
 * - **refused**: a value other than those in `accepted` changes the maths into something lib
 *   does not implement, so it is refused with an error naming the field and the value (never
 *   ignored); an accepted value is kept like a harmless field;
 * - **rewritten**: describes the files (architecture, tensor dtype): dropped on load, written on
 *   save with the value in `saved`.
 *
 * A field in no table is kept like a harmless one: transformers ignores fields its config class
 * does not declare, and so does lib. The loaders and savers of `mamba/checkpoint.ts` and
 * `transformer/checkpoint.ts` apply their architecture's table with the helpers below.
 */

/** What lib does with one config.json field (see the module comment). */
export interface ConfigField {
  use: "used" | "harmless" | "refused" | "rewritten";
  /** The type transformers declares; integral "float" fields are written as `1.0`. */
  type: "int" | "float" | "bool" | "string" | "list" | "object" | "any";
  /** Which transformers versions write the field: "4.x", "5.x" or "4.x, 5.x". */
  writers: string;
  /** What the field means to transformers, and why lib treats it so. */
  why: string;
  /** refused fields: the values lib implements (null: absent or null). */
  accepted?: readonly unknown[];
  /** Written on save (rewritten fields, and refused ones lib states explicitly). */
  saved?: unknown;
}

/** One architecture's table: field name -> what lib does with it. */
export type ConfigFieldTable = Readonly<Record<string, ConfigField>>;

/** Builders of table entries; `writers` defaults to "4.x, 5.x". */
export const tableEntry = {
  used: (type: ConfigField["type"], why: string, writers = "4.x, 5.x"): ConfigField => ({
    use: "used",
    type,
    writers,
    why,
  }),
  harmless: (type: ConfigField["type"], why: string, writers = "4.x, 5.x"): ConfigField => ({
    use: "harmless",
    type,
    writers,
    why,
  }),
  /** Refused unless one of `accepted`; `saved`: written by every save. */
  refused: (
    type: ConfigField["type"],
    why: string,
    accepted: readonly unknown[],
    saved?: unknown,
  ): ConfigField => ({ use: "refused", type, writers: "4.x, 5.x", why, accepted, saved }),
};

/** The fields of `table` whose values are floats (written with a decimal point). */
export function floatFields(table: ConfigFieldTable): string[] {
  return Object.keys(table).filter((k) => table[k].type === "float");
}

/**
 * The error for the first refused field of `table` in `json` that holds a value lib does not
 * implement, in lib's argument format (`fn: argument 'config.hidden_act' must be "silu", the
 * only value lib implements for the MLP's activation (got "gelu")`, with `what` "config"), or
 * null when there is none.
 */
export function refusedFieldError(
  fn: string,
  what: string,
  table: ConfigFieldTable,
  json: Record<string, unknown>,
): Error | null {
  for (const [key, field] of Object.entries(table)) {
    if (field.use !== "refused" || !(key in json)) continue;
    const value = json[key];
    const accepted = field.accepted ?? [];
    if (!accepted.some((a) => a === value)) {
      const shown = accepted.filter((a) => a !== null).map((a) => JSON.stringify(a));
      return new Error(
        `${fn}: argument '${what}.${key}' must be ${shown.join(" or ")}${accepted.includes(null) ? " (or null)" : ""}, the only value lib implements for ${field.why} (got ${JSON.stringify(value)})`,
      );
    }
  }
  return null;
}

/**
 * The fields of a loaded `json` that a save must write back, in file order: all but the used
 * ones (the model's config holds those), the rewritten ones and those a save writes anyway.
 */
export function keptFields(
  table: ConfigFieldTable,
  json: Record<string, unknown>,
): Record<string, unknown> {
  const kept: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(json)) {
    const field = table[key] as ConfigField | undefined;
    if (
      field === undefined ||
      (field.use !== "used" && field.use !== "rewritten" && field.saved === undefined)
    ) {
      kept[key] = value;
    }
  }
  return kept;
}

/**
 * The config.json object a save writes: the table's `saved` values (first, and over anything
 * else), the model's kept `extra` fields, then its `config` fields.
 */
export function configToSave(
  table: ConfigFieldTable,
  config: Record<string, unknown>,
  extra: Record<string, unknown>,
): Record<string, unknown> {
  const saved = savedFields(table);
  return { ...saved, ...extra, ...config, ...saved };
}

/** The fields a save writes whatever the model holds: the `saved` values of the table. */
function savedFields(table: ConfigFieldTable): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(table)) {
    if (field.saved !== undefined) out[key] = field.saved;
  }
  return out;
}

/**
 * The fields transformers' base config class (`PreTrainedConfig`, 4.x `PretrainedConfig`) writes
 * for every architecture, shared by the tables.
 */
export const BASE_CONFIG_FIELDS: ConfigFieldTable = {
  architectures: {
    use: "rewritten",
    type: "list",
    writers: "4.x, 5.x",
    why: "the model class that saved the file; a save names this library's class",
  },
  dtype: {
    use: "rewritten",
    type: "string",
    writers: "4.x (from 4.56), 5.x",
    why: "the dtype of the saved tensors; lib saves float32",
    saved: "float32",
  },
  torch_dtype: {
    use: "rewritten",
    type: "string",
    writers: "4.x (before 4.56)",
    why: "the old name of dtype; a save writes dtype",
  },
  transformers_version: {
    use: "harmless",
    type: "string",
    writers: "4.x, 5.x",
    why: "the version that wrote the file",
  },
  _name_or_path: {
    use: "harmless",
    type: "string",
    writers: "4.x",
    why: "where the model was loaded from",
  },
  output_hidden_states: {
    use: "harmless",
    type: "bool",
    writers: "4.x, 5.x",
    why: "whether forward also returns the hidden states",
  },
  output_attentions: {
    use: "harmless",
    type: "bool",
    writers: "4.x",
    why: "whether forward also returns the attention weights",
  },
  return_dict: {
    use: "harmless",
    type: "bool",
    writers: "4.x, 5.x",
    why: "the Python type forward returns",
  },
  use_cache: {
    use: "harmless",
    type: "bool",
    writers: "4.x, 5.x",
    why: "whether generation keeps a cache; the same tokens either way",
  },
  chunk_size_feed_forward: {
    use: "harmless",
    type: "int",
    writers: "4.x, 5.x",
    why: "feed-forward chunking for memory; not used by these models",
  },
  id2label: {
    use: "harmless",
    type: "object",
    writers: "4.x, 5.x",
    why: "class names for classification heads; a causal LM has none",
  },
  label2id: {
    use: "harmless",
    type: "object",
    writers: "4.x, 5.x",
    why: "class names for classification heads; a causal LM has none",
  },
  problem_type: {
    use: "harmless",
    type: "string",
    writers: "4.x, 5.x",
    why: "the loss of classification heads; a causal LM has none",
  },
  bos_token_id: {
    use: "harmless",
    type: "any",
    writers: "4.x, 5.x",
    why: "the tokenizer's begin-of-sequence id",
  },
  eos_token_id: {
    use: "harmless",
    type: "any",
    writers: "4.x, 5.x",
    why: "the tokenizer's end-of-sequence id(s); generation stops there only when asked (stopToken)",
  },
};
