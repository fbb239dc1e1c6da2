/**
 * Config fields by table (lib/src/checkpoint/config-fields.ts, MAMBA_CONFIG_TABLE,
 * MAMBA2_CONFIG_TABLE and LLAMA_CONFIG_TABLE): every field transformers writes is in the table, the loaders read RoPE
 * where transformers 4.x and 5.x put it, refuse every field value that changes the maths into
 * something lib does not implement (naming field and value), and the savers write float fields as
 * floats. The configs written by transformers themselves are the golden fixtures' (tests/fixtures/hf).
 */
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  type ConfigFieldTable,
  LLAMA_CONFIG_FIELDS,
  LLAMA_CONFIG_TABLE,
  MAMBA2_CONFIG_KEYS,
  MAMBA2_CONFIG_TABLE,
  MAMBA_CONFIG_KEYS,
  MAMBA_CONFIG_TABLE,
  Rng,
  initMamba,
  initTransformer,
  llamaConfig,
  loadMambaCheckpoint,
  loadTransformerCheckpoint,
  readConfigJson,
  saveMambaCheckpoint,
  saveTransformerCheckpoint,
  transformerForward,
} from "../../../lib/src/index";

const FIXTURES = path.resolve(__dirname, "../../fixtures/hf");
const tmp = mkdtempSync(path.join(os.tmpdir(), "config-fields-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let counter = 0;

/** A copy of fixture `name` with its config.json edited by `edit`; returns the folder. */
function edited(name: string, edit: (json: Record<string, unknown>) => void): string {
  const dir = path.join(tmp, `${name}-${counter++}`);
  cpSync(path.join(FIXTURES, name), dir, { recursive: true });
  const file = path.join(dir, "config.json");
  const json = JSON.parse(readFileSync(file, "utf8"));
  edit(json);
  writeFileSync(file, JSON.stringify(json));
  return dir;
}

/** The config.json files transformers itself wrote in the fixtures, per architecture. */
function transformersConfigs(arch: string): Record<string, unknown>[] {
  return readdirSync(FIXTURES)
    .filter((name) => !name.startsWith("ours-") && !name.includes("."))
    .map((name) => readConfigJson(path.join(FIXTURES, name, "config.json")))
    .filter((json) => (json.architectures as string[])[0] === arch);
}

describe.each([
  ["MambaForCausalLM", MAMBA_CONFIG_TABLE, MAMBA_CONFIG_KEYS as readonly string[]],
  ["LlamaForCausalLM", LLAMA_CONFIG_TABLE, LLAMA_CONFIG_FIELDS as readonly string[]],
  ["Mamba2ForCausalLM", MAMBA2_CONFIG_TABLE, MAMBA2_CONFIG_KEYS as readonly string[]],
] as [string, ConfigFieldTable, readonly string[]][])("the %s table", (arch, table, configKeys) => {
  it("lists every field transformers 4.57 and 5.18 wrote in the fixtures", () => {
    const configs = transformersConfigs(arch);
    const versions = new Set(configs.map((c) => String(c.transformers_version).split(".")[0]));
    expect(versions).toEqual(new Set(["4", "5"]));
    for (const json of configs) {
      for (const key of Object.keys(json)) expect(table, key).toHaveProperty(key);
    }
  });
  it("marks every field of the model's config as used, and says why for every field", () => {
    for (const key of configKeys) expect(table[key]?.use, key).toBe("used");
    for (const [key, field] of Object.entries(table)) {
      expect(["used", "harmless", "refused", "rewritten"], key).toContain(field.use);
      expect(field.why.length, key).toBeGreaterThan(5);
      if (field.use === "refused") expect(field.accepted?.length, key).toBeGreaterThan(0);
    }
  });
});

describe("loadTransformerCheckpoint reads RoPE's base where transformers puts it", () => {
  const theta = (dir: string) => loadTransformerCheckpoint(dir).config.rope_theta;
  it("5.x: rope_parameters; 4.x: top-level rope_theta with rope_scaling null", () => {
    expect(theta(path.join(FIXTURES, "llama-gqa1-tied-bf16"))).toBe(500000);
    expect(theta(path.join(FIXTURES, "llama-tf4"))).toBe(20000);
    // Both present: rope_parameters wins, as in transformers 5.
    expect(theta(edited("llama-gqa1-tied-bf16", (j) => (j.rope_theta = 77)))).toBe(500000);
    // rope_parameters without a base: the top-level one, else 10000.
    const noBase = (j: Record<string, unknown>) => (j.rope_parameters = { rope_type: "default" });
    expect(theta(edited("llama-gqa1-tied-bf16", noBase))).toBe(10000);
    expect(theta(edited("llama-gqa1-tied-bf16", (j) => (noBase(j), (j.rope_theta = 9))))).toBe(9);
  });
  it("4.x's rope_scaling, when set, replaces rope_parameters (as transformers 5 reads it)", () => {
    const dir = edited("llama-tf4", (j) => {
      j.rope_scaling = { type: "default", rope_theta: 1234 };
      j.rope_parameters = { rope_type: "default", rope_theta: 99 };
    });
    expect(theta(dir)).toBe(1234);
  });
});

describe("fields that change the maths are refused, naming field and value", () => {
  const llama: [string, (j: Record<string, unknown>) => void, RegExp][] = [
    ...["llama3", "linear", "dynamic", "yarn", "longrope"].map(
      (type): [string, (j: Record<string, unknown>) => void, RegExp] => [
        `rope_parameters.rope_type ${type}`,
        (j) => (j.rope_parameters = { rope_type: type, rope_theta: 5e5, factor: 8.0 }),
        new RegExp(
          `config\\.rope_parameters\\.rope_type must be "default", .* \\(got "${type}"\\)`,
        ),
      ],
    ),
    [
      "4.x rope_scaling {type: linear}",
      (j) => (j.rope_scaling = { type: "linear", factor: 2.0 }),
      /config\.rope_scaling\.type must be "default", .*\(got "linear"\)/,
    ],
    [
      "a setting plain RoPE does not read",
      (j) => (j.rope_parameters = { rope_type: "default", rope_theta: 1e4, factor: 4.0 }),
      /config\.rope_parameters must hold only .* \(got factor: 4\)/,
    ],
    [
      "partial_rotary_factor in rope_parameters",
      (j) => (j.rope_parameters = { rope_type: "default", partial_rotary_factor: 0.5 }),
      /config\.rope_parameters\.partial_rotary_factor must be 1, .* \(got 0\.5\)/,
    ],
    [
      "a top-level partial_rotary_factor",
      (j) => (j.partial_rotary_factor = 0.25),
      /config\.partial_rotary_factor must be 1 \(or null\), .* \(got 0\.25\)/,
    ],
    [
      "rope_parameters not an object",
      (j) => (j.rope_parameters = 10000),
      /config\.rope_parameters must be an object of RoPE settings or null \(got 10000\)/,
    ],
    [
      "attention_bias",
      (j) => (j.attention_bias = true),
      /config\.attention_bias must be false, .*\(got true\)/,
    ],
    ["mlp_bias", (j) => (j.mlp_bias = true), /config\.mlp_bias must be false, .*\(got true\)/],
    [
      "hidden_act",
      (j) => (j.hidden_act = "gelu"),
      /config\.hidden_act must be "silu", .*\(got "gelu"\)/,
    ],
    [
      "attention_dropout",
      (j) => (j.attention_dropout = 0.1),
      /config\.attention_dropout must be 0 \(or null\), .*\(got 0\.1\)/,
    ],
    [
      "model_type",
      (j) => (j.model_type = "mistral"),
      /config\.model_type must be "llama" .*\(got "mistral"\)/,
    ],
    [
      "a pad_token_id outside the vocabulary",
      (j) => (j.pad_token_id = 64),
      /config\.pad_token_id must be an integer in \[-64, 63\] \(got 64\)/,
    ],
  ];
  it.each(llama)("Llama: %s", (_, edit, message) => {
    for (const name of ["llama-gqa1-tied-bf16", "llama-tf4"]) {
      const dir = edited(name, edit);
      expect(() => loadTransformerCheckpoint(dir)).toThrow(message);
      expect(() => loadTransformerCheckpoint(dir)).toThrow(
        new RegExp(
          `^loadTransformerCheckpoint: argument 'dir' must be a valid checkpoint folder: file '.*config\\.json': `,
        ),
      );
    }
  });
  it("Mamba: an activation other than silu, another model_type", () => {
    const gelu = edited("mamba-tied-f32", (j) => (j.hidden_act = "gelu"));
    expect(() => loadMambaCheckpoint(gelu)).toThrow(
      /^loadMambaCheckpoint: argument 'dir' must be a valid checkpoint folder: file '.*config\.json': config\.hidden_act must be "silu", the only value lib implements for the activation after the conv and on the gate \(got "gelu"\)$/,
    );
    const llama = edited("mamba-tf4", (j) => (j.model_type = "llama"));
    expect(() => loadMambaCheckpoint(llama)).toThrow(
      /config\.model_type must be "mamba" .*\(got "llama"\)/,
    );
  });
  it("llamaConfig takes HF's fields at the one value lib implements, and refuses others", () => {
    const base = {
      vocab_size: 10,
      hidden_size: 8,
      intermediate_size: 12,
      num_hidden_layers: 1,
      num_attention_heads: 2,
    };
    const fixed = { hidden_act: "silu", attention_bias: false, mlp_bias: false };
    expect(llamaConfig({ ...base, ...fixed } as never)).toEqual(llamaConfig(base));
    expect(() => llamaConfig({ ...base, mlp_bias: true } as never)).toThrow(
      /^llamaConfig: argument 'fields\.mlp_bias' must be false, .*\(got true\)$/,
    );
  });
});

describe("harmless fields are kept, descriptions of the files rewritten", () => {
  it("a transformers 5 BF16 Mamba re-saved: init-only fields kept, dtype float32, floats as floats", () => {
    const model = loadMambaCheckpoint(path.join(FIXTURES, "mamba-bf16"));
    expect(model.extraConfig).toMatchObject({
      time_step_scale: 1,
      pad_token_id: 0,
      use_mambapy: false,
    });
    expect(model.extraConfig).not.toHaveProperty("dtype");
    const dir = path.join(tmp, "mamba-resaved");
    saveMambaCheckpoint(model, dir);
    const text = readFileSync(path.join(dir, "config.json"), "utf8");
    for (const float of [
      "time_step_scale",
      "time_step_min",
      "time_step_max",
      "time_step_floor",
      "initializer_range",
      "layer_norm_epsilon",
    ]) {
      expect(text, float).toMatch(new RegExp(`"${float}": -?\\d*\\.?\\d+(e-?\\d+)?,?\\n`));
      expect(text, float).not.toMatch(new RegExp(`"${float}": -?\\d+,?\\n`));
    }
    expect(JSON.parse(text)).toMatchObject({
      dtype: "float32",
      model_type: "mamba",
      hidden_act: "silu",
    });
  });
  it("an integral float is written with a decimal point (transformers 5 refuses `1` for a float)", () => {
    const model = initMamba(
      { vocab_size: 8, hidden_size: 4, num_hidden_layers: 1, layer_norm_epsilon: 1 },
      new Rng(1),
    );
    model.extraConfig = { time_step_scale: 2, time_step_min: 0, bos_token_id: 0 };
    const dir = path.join(tmp, "mamba-floats");
    saveMambaCheckpoint(model, dir);
    const text = readFileSync(path.join(dir, "config.json"), "utf8");
    expect(text).toContain('"layer_norm_epsilon": 1.0');
    expect(text).toContain('"time_step_scale": 2.0');
    expect(text).toContain('"time_step_min": 0.0');
    expect(text).toContain('"bos_token_id": 0,'); // an int stays an int
    expect(loadMambaCheckpoint(dir).config.layer_norm_epsilon).toBe(1);
  });
  it("a Llama saved by lib states RoPE for both versions, and its pad row starts at zero", () => {
    const model = initTransformer(
      {
        vocab_size: 12,
        hidden_size: 8,
        intermediate_size: 12,
        num_hidden_layers: 1,
        num_attention_heads: 2,
        rope_theta: 20000,
        rms_norm_eps: 1,
        pad_token_id: -1,
      },
      new Rng(2),
    );
    const emb = model.params.get("model.embed_tokens.weight")!.data;
    expect(Array.from(emb.subarray(11 * 8))).toEqual(new Array(8).fill(0)); // -1: the last row
    expect(Math.max(...Array.from(emb.subarray(0, 8), Math.abs))).toBeGreaterThan(0);
    const dir = path.join(tmp, "llama-saved");
    saveTransformerCheckpoint(model, dir);
    const text = readFileSync(path.join(dir, "config.json"), "utf8");
    expect(text).toContain('"rope_theta": 20000.0');
    expect(text).toContain('"rms_norm_eps": 1.0');
    const json = JSON.parse(text);
    expect(json.rope_parameters).toEqual({ rope_theta: 20000, rope_type: "default" });
    expect(json).toMatchObject({ pad_token_id: -1, dtype: "float32", hidden_act: "silu" });
    const back = loadTransformerCheckpoint(dir);
    expect(back.config).toEqual(model.config);
    expect(Array.from(transformerForward(back, [[1, 2, 3]]).data)).toEqual(
      Array.from(transformerForward(model, [[1, 2, 3]]).data),
    );
  });
});
