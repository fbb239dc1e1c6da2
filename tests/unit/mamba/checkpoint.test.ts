/**
 * saveMambaCheckpoint and loadMambaCheckpoint (lib/src/mamba/checkpoint.ts) in Hugging Face's
 * MambaForCausalLM layout: the names and shapes written out here by hand, round trips, F16 and BF16
 * files built here from the safetensors specification, and every malformed file or config refused
 * naming the file and the tensor or field.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  Rng,
  initMamba,
  loadMambaCheckpoint,
  mambaForward,
  saveMambaCheckpoint,
} from "../../../lib/src/index";

const root = mkdtempSync(path.join(os.tmpdir(), "mamba-ckpt-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;
const fresh = () => path.join(root, `c${counter++}`);

const CONFIG = { vocab_size: 19, hidden_size: 16, num_hidden_layers: 2, state_size: 4 };
const model = initMamba(CONFIG, new Rng(3));

/** The names and shapes of a HF MambaForCausalLM, written out for this config by hand. */
function expectedLayout(): Record<string, number[]> {
  const out: Record<string, number[]> = {
    "backbone.embeddings.weight": [19, 16],
    "backbone.norm_f.weight": [16],
  };
  for (const i of [0, 1]) {
    const m = `backbone.layers.${i}.mixer.`;
    Object.assign(out, {
      [`backbone.layers.${i}.norm.weight`]: [16],
      [m + "in_proj.weight"]: [64, 16],
      [m + "conv1d.weight"]: [32, 1, 4],
      [m + "conv1d.bias"]: [32],
      [m + "x_proj.weight"]: [1 + 8, 32],
      [m + "dt_proj.weight"]: [32, 1],
      [m + "dt_proj.bias"]: [32],
      [m + "A_log"]: [32, 4],
      [m + "D"]: [32],
      [m + "out_proj.weight"]: [16, 32],
    });
  }
  return out;
}

/** Hand-built safetensors bytes (spec: u64 LE header length, JSON header, raw LE data). */
function buildFile(
  entries: { name: string; dtype: string; shape: number[]; bytes: Buffer }[],
): Buffer {
  const header: Record<string, unknown> = {};
  let off = 0;
  for (const e of entries) {
    header[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: [off, off + e.bytes.length] };
    off += e.bytes.length;
  }
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, ...entries.map((e) => e.bytes)]);
}

function f32(data: ArrayLike<number>): Buffer {
  const b = Buffer.alloc(4 * data.length);
  for (let i = 0; i < data.length; i++) b.writeFloatLE(data[i], 4 * i);
  return b;
}

/** bfloat16 by truncation: the top 16 bits of the float32. */
function bf16(data: ArrayLike<number>): { bytes: Buffer; values: number[] } {
  const b = Buffer.alloc(2 * data.length);
  const values: number[] = [];
  const tmp = Buffer.alloc(4);
  for (let i = 0; i < data.length; i++) {
    tmp.writeFloatLE(data[i]);
    const top = tmp.readUInt16LE(2);
    b.writeUInt16LE(top, 2 * i);
    tmp.writeUInt16LE(0, 0);
    values.push(tmp.readFloatLE(0));
  }
  return { bytes: b, values };
}

function writeCheckpoint(
  dir: string,
  config: object,
  entries: { name: string; dtype: string; shape: number[]; bytes: Buffer }[],
) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "config.json"), JSON.stringify(config));
  writeFileSync(path.join(dir, "model.safetensors"), buildFile(entries));
}

const f32Entries = () =>
  [...model.params].map(([name, t]) => ({
    name,
    dtype: "F32",
    shape: t.shape,
    bytes: f32(t.data),
  }));

describe("saveMambaCheckpoint / loadMambaCheckpoint", () => {
  it("writes exactly the HF names and shapes, F32, and a config.json with HF field names", () => {
    const dir = fresh();
    saveMambaCheckpoint(model, dir);
    const buf = readFileSync(path.join(dir, "model.safetensors"));
    const n = Number(buf.readBigUInt64LE(0));
    const header = JSON.parse(buf.subarray(8, 8 + n).toString());
    const layout: Record<string, number[]> = {};
    for (const [k, v] of Object.entries(header)) {
      if (k === "__metadata__") continue;
      const e = v as { dtype: string; shape: number[] };
      expect(e.dtype).toBe("F32");
      layout[k] = e.shape;
    }
    expect(layout).toEqual(expectedLayout());
    const cfg = JSON.parse(readFileSync(path.join(dir, "config.json"), "utf8"));
    expect(cfg).toMatchObject({
      vocab_size: 19,
      hidden_size: 16,
      state_size: 4,
      num_hidden_layers: 2,
      expand: 2,
      conv_kernel: 4,
      time_step_rank: 1,
      intermediate_size: 32,
      layer_norm_epsilon: 1e-5,
      use_bias: false,
      use_conv_bias: true,
      residual_in_fp32: true,
      tie_word_embeddings: true,
      model_type: "mamba",
      architectures: ["MambaForCausalLM"],
    });
  });
  it("round-trips: same config, same parameters, same logits; unknown config fields kept", () => {
    const dir = fresh();
    saveMambaCheckpoint(model, dir);
    const cfgPath = path.join(dir, "config.json");
    writeFileSync(
      cfgPath,
      JSON.stringify({
        ...JSON.parse(readFileSync(cfgPath, "utf8")),
        bos_token_id: 0,
        torch_dtype: "float32",
      }),
    );
    const back = loadMambaCheckpoint(dir);
    expect(back.config).toEqual(model.config);
    expect([...back.params.keys()].sort()).toEqual([...model.params.keys()].sort());
    for (const [k, t] of model.params)
      expect(Array.from(back.params.get(k)!.data)).toEqual(Array.from(t.data));
    expect(Array.from(mambaForward(back, [[1, 2, 3]]).data)).toEqual(
      Array.from(mambaForward(model, [[1, 2, 3]]).data),
    );
    const dir2 = fresh();
    saveMambaCheckpoint(back, dir2);
    // bos_token_id is kept; torch_dtype (4.x's name) describes the files: a save writes dtype.
    const resaved = JSON.parse(readFileSync(path.join(dir2, "config.json"), "utf8"));
    expect(resaved).toMatchObject({ bos_token_id: 0, dtype: "float32" });
    expect(resaved).not.toHaveProperty("torch_dtype");
  });
  it("loads a hand-built BF16 file with state-spaces/mamba's embedding name and time_step_rank 'auto'", () => {
    const dir = fresh();
    const expected = new Map<string, number[]>();
    const entries = [...model.params].map(([name, t]) => {
      const { bytes, values } = bf16(t.data);
      expected.set(name, values);
      return {
        name: name === "backbone.embeddings.weight" ? "backbone.embedding.weight" : name,
        dtype: "BF16",
        shape: t.shape,
        bytes,
      };
    });
    writeCheckpoint(dir, { ...CONFIG, time_step_rank: "auto", model_type: "mamba" }, entries);
    const back = loadMambaCheckpoint(dir);
    expect(back.config.time_step_rank).toBe(1);
    for (const [k, v] of expected) expect(Array.from(back.params.get(k)!.data)).toEqual(v);
    // model_type is checked ("mamba") and written by every save, so not kept as extra.
    expect(back.extraConfig).toEqual({});
  });
  it("loads a hand-built F16 file (values k/256, exact in binary16)", () => {
    // binary16 bits of v = k/256 with |v| < 8: exact, since |k| < 2048 fits the 11-bit significand
    const f16Bits = (v: number): number => {
      if (v === 0) return 0;
      const sign = v < 0 ? 0x8000 : 0;
      const a = Math.abs(v);
      const e = Math.floor(Math.log2(a));
      return sign | ((e + 15) << 10) | Math.round((a / 2 ** e - 1) * 1024);
    };
    const dir = fresh();
    const expected = new Map<string, number[]>();
    const entries = [...model.params].map(([name, t]) => {
      const values = Array.from(t.data, (v) => Math.round(v * 256) / 256 + 0); // + 0: no -0
      expect(Math.max(...values.map(Math.abs))).toBeLessThan(8);
      expected.set(name, values);
      const bytes = Buffer.alloc(2 * values.length);
      values.forEach((v, i) => bytes.writeUInt16LE(f16Bits(v), 2 * i));
      return { name, dtype: "F16", shape: t.shape, bytes };
    });
    writeCheckpoint(dir, CONFIG, entries);
    const back = loadMambaCheckpoint(dir);
    for (const [k, v] of expected) expect(Array.from(back.params.get(k)!.data)).toEqual(v);
  });
  it("accepts a stored tied head equal to the embedding, and an untied head", () => {
    const dir = fresh();
    const emb = model.params.get("backbone.embeddings.weight")!;
    writeCheckpoint(dir, CONFIG, [
      ...f32Entries(),
      { name: "lm_head.weight", dtype: "F32", shape: emb.shape, bytes: f32(emb.data) },
    ]);
    expect(loadMambaCheckpoint(dir).params.has("lm_head.weight")).toBe(false);
    const untied = initMamba({ ...CONFIG, tie_word_embeddings: false }, new Rng(4));
    const dir2 = fresh();
    saveMambaCheckpoint(untied, dir2);
    expect(loadMambaCheckpoint(dir2).params.get("lm_head.weight")!.shape).toEqual([19, 16]);
  });
});

describe("loadMambaCheckpoint refuses, naming the file and the tensor or field", () => {
  const base = () => f32Entries();
  const cases: [string, () => string, RegExp][] = [
    [
      "a missing tensor",
      () => {
        const d = fresh();
        writeCheckpoint(
          d,
          CONFIG,
          base().filter((e) => e.name !== "backbone.layers.1.mixer.A_log"),
        );
        return d;
      },
      /model\.safetensors': missing tensor "backbone\.layers\.1\.mixer\.A_log"/,
    ],
    [
      "an extra tensor",
      () => {
        const d = fresh();
        writeCheckpoint(d, CONFIG, [
          ...base(),
          {
            name: "backbone.layers.2.norm.weight",
            dtype: "F32",
            shape: [16],
            bytes: f32(new Float32Array(16)),
          },
        ]);
        return d;
      },
      /model\.safetensors': unexpected tensor "backbone\.layers\.2\.norm\.weight"/,
    ],
    [
      "a wrong shape",
      () => {
        const d = fresh();
        writeCheckpoint(
          d,
          CONFIG,
          base().map((e) => (e.name === "backbone.layers.0.mixer.D" ? { ...e, shape: [4, 8] } : e)),
        );
        return d;
      },
      /model\.safetensors': tensor "backbone\.layers\.0\.mixer\.D" has shape \[4, 8\] but .*config\.json .* implies \[32\]/,
    ],
    [
      "a config that disagrees with the tensors",
      () => {
        const d = fresh();
        writeCheckpoint(d, { ...CONFIG, state_size: 8 }, base());
        return d;
      },
      /tensor "backbone\.layers\.0\.mixer\.x_proj\.weight" has shape \[9, 32\] but .*config\.json \(.*state_size 8.*\) implies \[17, 32\]/,
    ],
    [
      "a truncated file",
      () => {
        const d = fresh();
        writeCheckpoint(d, CONFIG, base());
        const p = path.join(d, "model.safetensors");
        const b = readFileSync(p);
        writeFileSync(p, b.subarray(0, b.length - 10));
        return d;
      },
      /loadMambaCheckpoint: argument 'dir' must be a valid checkpoint folder: file '.*model\.safetensors': tensor ".*": data_offsets .* run past the data buffer/,
    ],
    [
      "a corrupt header",
      () => {
        const d = fresh();
        writeCheckpoint(d, CONFIG, base());
        const p = path.join(d, "model.safetensors");
        const b = readFileSync(p);
        b[9] = 0x21;
        writeFileSync(p, b);
        return d;
      },
      /model\.safetensors': header is not valid JSON/,
    ],
    [
      "an unknown dtype",
      () => {
        const d = fresh();
        writeCheckpoint(
          d,
          CONFIG,
          base().map((e) => (e.name === "backbone.norm_f.weight" ? { ...e, dtype: "F31" } : e)),
        );
        return d;
      },
      /model\.safetensors': tensor "backbone\.norm_f\.weight": unknown dtype "F31"/,
    ],
    [
      "non-finite values",
      () => {
        const d = fresh();
        writeCheckpoint(
          d,
          CONFIG,
          base().map((e) =>
            e.name === "backbone.norm_f.weight"
              ? { ...e, bytes: f32(new Float32Array(16).fill(NaN)) }
              : e,
          ),
        );
        return d;
      },
      /model\.safetensors': tensor "backbone\.norm_f\.weight" holds NaN/,
    ],
    [
      "a config field of the wrong type",
      () => {
        const d = fresh();
        writeCheckpoint(d, { ...CONFIG, use_conv_bias: "yes" }, base());
        return d;
      },
      /config\.json': config\.use_conv_bias must be true or false/,
    ],
    [
      "a missing config field",
      () => {
        const d = fresh();
        writeCheckpoint(d, { vocab_size: 19, num_hidden_layers: 2 }, base());
        return d;
      },
      /config\.json': config\.hidden_size must be an integer/,
    ],
    [
      "intermediate_size ≠ expand · hidden_size",
      () => {
        const d = fresh();
        writeCheckpoint(d, { ...CONFIG, intermediate_size: 48 }, base());
        return d;
      },
      /config\.json': config\.intermediate_size must be expand · hidden_size = 2 · 16 = 32 \(got 48/,
    ],
    [
      "a tied head that is not the embedding",
      () => {
        const d = fresh();
        writeCheckpoint(d, CONFIG, [
          ...base(),
          {
            name: "lm_head.weight",
            dtype: "F32",
            shape: [19, 16],
            bytes: f32(new Float32Array(19 * 16)),
          },
        ]);
        return d;
      },
      /tensor "lm_head\.weight" differs from the embedding/,
    ],
    [
      "a folder without model.safetensors",
      () => {
        const d = fresh();
        mkdirSync(d);
        writeFileSync(path.join(d, "config.json"), JSON.stringify(CONFIG));
        return d;
      },
      /loadMambaCheckpoint: argument 'dir' must be a valid checkpoint folder: file '.*model\.safetensors': missing/,
    ],
  ];
  for (const [what, make, message] of cases)
    it(what, () => expect(() => loadMambaCheckpoint(make())).toThrow(message));
});
