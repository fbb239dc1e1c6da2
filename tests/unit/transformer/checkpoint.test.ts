/**
 * saveTransformerCheckpoint and loadTransformerCheckpoint (lib/src/transformer/checkpoint.ts) in
 * Hugging Face's LlamaForCausalLM layout: bit-for-bit round trips, tied heads, a bfloat16 file
 * built here by hand, config fields kept, and missing, corrupt or disagreeing files refused naming
 * the file and the tensor.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  Rng,
  type TransformerModel,
  initTransformer,
  llamaConfig,
  loadTransformerCheckpoint,
  readSafetensors,
  saveTransformerCheckpoint,
  transformerForward,
  writeSafetensors,
} from "../../../lib/src/index";

const root = mkdtempSync(path.join(os.tmpdir(), "transformer-ckpt-test-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;
const freshDir = (): string => path.join(root, `ckpt-${counter++}`);

const config = llamaConfig({
  vocab_size: 11,
  hidden_size: 8,
  intermediate_size: 12,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  rope_theta: 500,
  rms_norm_eps: 1e-5,
  max_position_embeddings: 256,
});
const make = (over = {}): TransformerModel =>
  initTransformer({ ...config, ...over, initializer_range: 0.2 }, new Rng(1));

/** A saved model's folder, with its config.json as an object for editing. */
function saved(model = make()): { dir: string; json: Record<string, unknown> } {
  const dir = freshDir();
  saveTransformerCheckpoint(model, dir);
  return { dir, json: JSON.parse(readFileSync(path.join(dir, "config.json"), "utf8")) };
}
const writeJson = (dir: string, json: unknown): void =>
  writeFileSync(path.join(dir, "config.json"), JSON.stringify(json));
const weights = (dir: string): string => path.join(dir, "model.safetensors");

describe("Transformer++ checkpoints (LlamaForCausalLM layout)", () => {
  it("round-trips every tensor bit for bit, the config, and the logits", () => {
    const model = make();
    const { dir, json } = saved(model);
    // config.json as transformers writes it for LlamaForCausalLM.
    expect(json).toMatchObject({
      architectures: ["LlamaForCausalLM"],
      model_type: "llama",
      vocab_size: 11,
      hidden_size: 8,
      intermediate_size: 12,
      num_hidden_layers: 2,
      num_attention_heads: 2,
      num_key_value_heads: 1,
      head_dim: 4,
      rope_theta: 500,
      rms_norm_eps: 1e-5,
      max_position_embeddings: 256,
      tie_word_embeddings: false,
      hidden_act: "silu",
    });
    const names = [...readSafetensors(weights(dir)).keys()].sort();
    expect(names).toEqual([...model.params.keys()].sort());
    expect(names).toContain("lm_head.weight");
    expect(names).toContain("model.layers.1.self_attn.k_proj.weight");
    const back = loadTransformerCheckpoint(dir);
    expect(back.config).toEqual(model.config);
    for (const [name, t] of model.params) {
      const u = back.params.get(name)!;
      expect(u.shape).toEqual(t.shape);
      expect(Buffer.from(u.data.buffer, u.data.byteOffset, u.data.byteLength)).toEqual(
        Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength),
      );
    }
    const tokens = [[1, 2, 3, 4, 10]];
    expect(Array.from(transformerForward(back, tokens).data)).toEqual(
      Array.from(transformerForward(model, tokens).data),
    );
  });

  it("writes no lm_head.weight when the embeddings are tied, and loads that back", () => {
    const model = make({ tie_word_embeddings: true });
    const { dir, json } = saved(model);
    expect(json.tie_word_embeddings).toBe(true);
    expect(readSafetensors(weights(dir)).has("lm_head.weight")).toBe(false);
    const back = loadTransformerCheckpoint(dir);
    expect(back.params.has("lm_head.weight")).toBe(false);
    expect(Array.from(transformerForward(back, [[5, 6]]).data)).toEqual(
      Array.from(transformerForward(model, [[5, 6]]).data),
    );
  });

  it("loads a bfloat16 file (as transformers saves Llama weights), built by hand", () => {
    const model = make();
    const { dir } = saved(model);
    // BF16 = the top 16 bits of the float32 pattern; header and data laid out per the format.
    const names = [...model.params.keys()].sort();
    const header: Record<string, unknown> = { __metadata__: { format: "pt" } };
    const chunks: Buffer[] = [];
    let offset = 0;
    for (const name of names) {
      const t = model.params.get(name)!;
      const buf = Buffer.alloc(2 * t.data.length);
      const bits = new Uint32Array(Float32Array.from(t.data).buffer);
      bits.forEach((v, i) => buf.writeUInt16LE(v >>> 16, 2 * i));
      header[name] = { dtype: "BF16", shape: t.shape, data_offsets: [offset, offset + buf.length] };
      offset += buf.length;
      chunks.push(buf);
    }
    const json = Buffer.from(JSON.stringify(header), "utf8");
    const size = Buffer.alloc(8);
    size.writeBigUInt64LE(BigInt(json.length));
    writeFileSync(weights(dir), Buffer.concat([size, json, ...chunks]));
    const back = loadTransformerCheckpoint(dir);
    for (const name of names) {
      const want = new Uint32Array(Float32Array.from(model.params.get(name)!.data).buffer).map(
        (v) => v & 0xffff0000,
      );
      const got = new Uint32Array(Float32Array.from(back.params.get(name)!.data).buffer);
      expect(Array.from(got)).toEqual(Array.from(want));
    }
  });

  it("keeps config.json fields it does not read, and derives an absent head_dim", () => {
    const { dir, json } = saved();
    const { head_dim: _, ...rest } = json;
    writeJson(dir, { ...rest, bos_token_id: 1, eos_token_id: 2, transformers_version: "4.46.0" });
    const back = loadTransformerCheckpoint(dir);
    expect(back.config.head_dim).toBe(4);
    const again = freshDir();
    saveTransformerCheckpoint(back, again);
    const json2 = JSON.parse(readFileSync(path.join(again, "config.json"), "utf8"));
    expect(json2).toMatchObject({ bos_token_id: 1, eos_token_id: 2, head_dim: 4 });
  });

  it("refuses missing files and corrupt ones, naming the file", () => {
    const fn = /^loadTransformerCheckpoint: /;
    expect(() => loadTransformerCheckpoint(path.join(root, "nowhere"))).toThrow(fn);
    expect(() => loadTransformerCheckpoint(path.join(root, "nowhere"))).toThrow(/config\.json/);
    const a = saved();
    rmSync(weights(a.dir));
    expect(() => loadTransformerCheckpoint(a.dir)).toThrow(/model\.safetensors/);
    const b = saved();
    const bytes = readFileSync(weights(b.dir));
    writeFileSync(weights(b.dir), bytes.subarray(0, bytes.length - 7));
    expect(() => loadTransformerCheckpoint(b.dir)).toThrow(fn);
    expect(() => loadTransformerCheckpoint(b.dir)).toThrow(/model\.safetensors/);
    const c = saved();
    writeFileSync(path.join(c.dir, "config.json"), "{ not json");
    expect(() => loadTransformerCheckpoint(c.dir)).toThrow(/config\.json': not valid JSON/);
  });

  it("refuses a missing tensor, an extra tensor and a wrong shape, naming the tensor", () => {
    const model = make();
    const rewrite = (edit: (m: Map<string, { shape: number[]; data: Float32Array }>) => void) => {
      const { dir } = saved(model);
      const tensors = new Map(model.params) as Map<string, { shape: number[]; data: Float32Array }>;
      edit(tensors);
      writeSafetensors(weights(dir), tensors);
      return dir;
    };
    const missing = rewrite((m) => m.delete("model.layers.1.mlp.gate_proj.weight"));
    expect(() => loadTransformerCheckpoint(missing)).toThrow(
      /loadTransformerCheckpoint: .*model\.safetensors': missing tensor "model\.layers\.1\.mlp\.gate_proj\.weight"/,
    );
    const extra = rewrite((m) =>
      m.set("model.layers.2.input_layernorm.weight", { shape: [8], data: new Float32Array(8) }),
    );
    expect(() => loadTransformerCheckpoint(extra)).toThrow(
      /unexpected tensor "model\.layers\.2\.input_layernorm\.weight"/,
    );
    const shape = rewrite((m) =>
      m.set("model.layers.0.self_attn.k_proj.weight", {
        shape: [8, 8],
        data: new Float32Array(64),
      }),
    );
    expect(() => loadTransformerCheckpoint(shape)).toThrow(
      /tensor "model\.layers\.0\.self_attn\.k_proj\.weight" has shape \[8, 8\] but .*config\.json \(.*num_key_value_heads 1.*\) implies \[4, 8\]/,
    );
    const nan = rewrite((m) => {
      const t = m.get("model.norm.weight")!;
      const data = Float32Array.from(t.data);
      data[3] = NaN;
      m.set("model.norm.weight", { shape: t.shape, data });
    });
    expect(() => loadTransformerCheckpoint(nan)).toThrow(
      /model\.safetensors': tensor "model\.norm\.weight" holds NaN at flat index 3/,
    );
  });

  it("refuses a config that disagrees with the tensors or with this architecture", () => {
    const untied = saved();
    writeJson(untied.dir, { ...untied.json, tie_word_embeddings: true });
    expect(() => loadTransformerCheckpoint(untied.dir)).toThrow(
      /unexpected tensor "lm_head\.weight" for .*config\.json \(num_hidden_layers \d+, tie_word_embeddings true\)/,
    );
    const tied = saved(make({ tie_word_embeddings: true }));
    writeJson(tied.dir, { ...tied.json, tie_word_embeddings: false });
    expect(() => loadTransformerCheckpoint(tied.dir)).toThrow(
      /missing tensor "lm_head\.weight" \(shape \[\d+, \d+\] from .*config\.json, which has tie_word_embeddings: false\)/,
    );
    const heads = saved();
    writeJson(heads.dir, { ...heads.json, num_key_value_heads: 2 });
    expect(() => loadTransformerCheckpoint(heads.dir)).toThrow(
      /"model\.layers\.0\.self_attn\.k_proj\.weight" has shape \[4, 8\] but .*config\.json \(.*num_key_value_heads 2.*\) implies \[8, 8\]/,
    );
    const bad = saved();
    const cases: [Record<string, unknown>, RegExp][] = [
      [
        { num_key_value_heads: 3 },
        /config\.json': config\.num_key_value_heads must be an integer in \[1, 2\]/,
      ],
      [
        { hidden_act: "gelu" },
        /config\.json': config\.hidden_act must be "silu", the only value lib implements for the MLP's activation \(got "gelu"\)/,
      ],
      [{ attention_bias: true }, /config\.attention_bias must be false, .* \(got true\)/],
      [
        { rope_scaling: { type: "linear", factor: 2 } },
        /config\.json': config\.rope_scaling\.type must be "default", the only RoPE lib implements .* \(got "linear"\)/,
      ],
      [
        { model_type: "mamba" },
        /config\.json': config\.model_type must be "llama" \(or null\), the only value lib implements for the architecture \(got "mamba"\)/,
      ],
      [
        { vocab_size: "11" },
        /config\.json': config\.vocab_size must be an integer in \[1, 1048576\] \(got "11"\)/,
      ],
      [{ hidden_size: undefined }, /\(got no field "hidden_size"/],
    ];
    for (const [edit, message] of cases) {
      writeJson(bad.dir, { ...bad.json, ...edit });
      expect(() => loadTransformerCheckpoint(bad.dir)).toThrow(message);
      expect(() => loadTransformerCheckpoint(bad.dir)).toThrow(/^loadTransformerCheckpoint: /);
    }
  });

  it("refuses to save a broken model, naming the tensor", () => {
    const model = make();
    const broken = { config: model.config, params: new Map(model.params) };
    broken.params.delete("model.norm.weight");
    expect(() => saveTransformerCheckpoint(broken, freshDir())).toThrow(
      /saveTransformerCheckpoint: argument 'model\.params' must hold every tensor of the config \(got no "model\.norm\.weight" of shape/,
    );
    const nan = { config: model.config, params: new Map(model.params) };
    nan.params.set("model.norm.weight", { shape: [8], data: new Float32Array(8).fill(Infinity) });
    expect(() => saveTransformerCheckpoint(nan, freshDir())).toThrow(
      /saveTransformerCheckpoint: argument 'model\.params' must hold finite values \(got Infinity in "model\.norm\.weight" at flat index 0/,
    );
    expect(() => saveTransformerCheckpoint(model, 3 as never)).toThrow(
      /saveTransformerCheckpoint: argument 'dir' must be a folder path/,
    );
  });
});
