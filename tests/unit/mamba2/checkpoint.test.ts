/**
 * saveMamba2Checkpoint and loadMamba2Checkpoint (lib/src/mamba2/checkpoint.ts) in Hugging Face's
 * Mamba2ForCausalLM layout: the names and shapes written out here by hand, round trips (∞ in
 * time_step_limit included), and malformed checkpoints refused naming the file and the tensor or
 * field. transformers itself loading lib's saves, and lib loading transformers' files, is in
 * tests/unit/checkpoint/hf-fixtures.test.ts.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  Rng,
  initMamba2,
  loadMamba2Checkpoint,
  mamba2Forward,
  readSafetensors,
  saveMamba2Checkpoint,
  writeSafetensors,
} from "../../../lib/src/index";

const root = mkdtempSync(path.join(os.tmpdir(), "mamba2-ckpt-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;
const fresh = () => path.join(root, `c${counter++}`);

const CONFIG = {
  vocab_size: 19,
  hidden_size: 16,
  num_hidden_layers: 2,
  num_heads: 4,
  head_dim: 8,
  n_groups: 2,
  state_size: 4,
  chunk_size: 8,
};
const model = initMamba2(CONFIG, new Rng(3));

describe("saveMamba2Checkpoint / loadMamba2Checkpoint", () => {
  it("writes exactly the HF names and shapes, F32, and transformers' config fields", () => {
    const dir = fresh();
    saveMamba2Checkpoint(model, dir);
    const want: Record<string, number[]> = {
      "backbone.embeddings.weight": [19, 16],
      "backbone.norm_f.weight": [16],
      "lm_head.weight": [19, 16],
    };
    for (const i of [0, 1]) {
      const m = `backbone.layers.${i}.mixer.`;
      Object.assign(want, {
        [`backbone.layers.${i}.norm.weight`]: [16],
        // z (32) + x (32) + B, C (2 groups × 4 each) + dt (4 heads)
        [m + "in_proj.weight"]: [32 + 32 + 16 + 4, 16],
        [m + "conv1d.weight"]: [48, 1, 4],
        [m + "conv1d.bias"]: [48],
        [m + "dt_bias"]: [4],
        [m + "A_log"]: [4],
        [m + "D"]: [4],
        [m + "norm.weight"]: [32],
        [m + "out_proj.weight"]: [16, 32],
      });
    }
    const tensors = readSafetensors(path.join(dir, "model.safetensors"));
    expect(Object.fromEntries([...tensors].map(([k, t]) => [k, t.shape]))).toEqual(want);
    expect(new Set([...tensors.values()].map((t) => t.dtype))).toEqual(new Set(["F32"]));
    const json = JSON.parse(readFileSync(path.join(dir, "config.json"), "utf8"));
    expect(json).toMatchObject({
      architectures: ["Mamba2ForCausalLM"],
      model_type: "mamba2",
      hidden_act: "silu",
      num_heads: 4,
      head_dim: 8,
      n_groups: 2,
      expand: 2,
      chunk_size: 8,
      tie_word_embeddings: false,
      time_step_limit: [0, { __float__: "Infinity" }],
    });
    expect(json).not.toHaveProperty("intermediate_size");
  });

  it("round-trips: same config, parameters and logits; unknown config fields kept", () => {
    const dir = fresh();
    const m = { ...model, extraConfig: { my_note: "kept", pad_token_id: 1 } };
    saveMamba2Checkpoint(m, dir);
    const back = loadMamba2Checkpoint(dir);
    expect(back.config).toEqual(model.config);
    expect(back.config.time_step_limit).toEqual([0, Infinity]);
    expect(back.extraConfig).toMatchObject({ my_note: "kept", pad_token_id: 1 });
    for (const [name, t] of model.params) expect(back.params.get(name)!.data).toEqual(t.data);
    const ids = [[1, 2, 3, 4, 5]];
    expect(mamba2Forward(back, ids).data).toEqual(mamba2Forward(model, ids).data);
  });

  it("accepts a stored tied head equal to the embedding and refuses one that differs", () => {
    const tied = initMamba2({ ...CONFIG, tie_word_embeddings: true }, new Rng(4));
    const dir = fresh();
    saveMamba2Checkpoint(tied, dir);
    const file = path.join(dir, "model.safetensors");
    const tensors = readSafetensors(file);
    const emb = tensors.get("backbone.embeddings.weight")!;
    const withHead = new Map(
      [...tensors].map(([k, t]) => [k, { shape: t.shape, data: t.data }] as const),
    );
    withHead.set("lm_head.weight", { shape: emb.shape, data: emb.data.slice() });
    writeSafetensors(file, withHead);
    expect(loadMamba2Checkpoint(dir).params.has("lm_head.weight")).toBe(false);
    withHead.get("lm_head.weight")!.data[0] += 1;
    writeSafetensors(file, withHead);
    expect(() => loadMamba2Checkpoint(dir)).toThrow(
      /tensor "lm_head.weight" differs from the embedding, but .* says tie_word_embeddings: true/,
    );
  });
});

describe("refused", () => {
  /** A saved checkpoint with its config.json edited by `edit`. */
  const withConfig = (edit: (json: Record<string, unknown>) => void) => {
    const dir = fresh();
    saveMamba2Checkpoint(model, dir);
    const p = path.join(dir, "config.json");
    const json = JSON.parse(readFileSync(p, "utf8"));
    edit(json);
    writeFileSync(p, JSON.stringify(json));
    return dir;
  };
  const withTensors = (edit: (t: Map<string, { shape: number[]; data: Float32Array }>) => void) => {
    const dir = fresh();
    saveMamba2Checkpoint(model, dir);
    const file = path.join(dir, "model.safetensors");
    const t = new Map(
      [...readSafetensors(file)].map(([k, v]) => [k, { shape: v.shape, data: v.data }] as const),
    );
    edit(t);
    writeSafetensors(file, t);
    return dir;
  };
  const cases: [string, () => string, RegExp][] = [
    [
      "another activation",
      () => withConfig((j) => (j.hidden_act = "gelu")),
      /loadMamba2Checkpoint: argument 'dir' must be a valid checkpoint folder: file '.*config.json': config.hidden_act must be "silu"/,
    ],
    [
      "another architecture",
      () => withConfig((j) => (j.model_type = "mamba")),
      /config.json': config.model_type must be "mamba2"/,
    ],
    [
      "heads that do not make the block width",
      () => withConfig((j) => (j.num_heads = 3)),
      /config.json': config.num_heads must be num_heads · head_dim = expand · hidden_size = 2 · 16 = 32/,
    ],
    [
      "groups that do not divide the heads",
      () => withConfig((j) => (j.n_groups = 3)),
      /config.json': config.n_groups must be a divisor of num_heads = 4/,
    ],
    [
      "a time_step_limit that is not [min, max]",
      () => withConfig((j) => (j.time_step_limit = [1, 0.5])),
      /config.json': config.time_step_limit must be \[min, max\] with 0 ≤ min ≤ max/,
    ],
    [
      "a missing tensor",
      () => withTensors((t) => t.delete("backbone.layers.1.mixer.dt_bias")),
      /model.safetensors.*missing tensor "backbone.layers.1.mixer.dt_bias" \(shape \[4\]/,
    ],
    [
      "a tensor of the wrong shape",
      () =>
        withTensors((t) =>
          t.set("backbone.layers.0.mixer.A_log", { shape: [5], data: new Float32Array(5) }),
        ),
      /tensor "backbone.layers.0.mixer.A_log" has shape \[5\] but .*config.json \(hidden_size 16, .*num_heads 4.*\) implies \[4\]/,
    ],
    [
      "an unexpected tensor",
      () =>
        withTensors((t) =>
          t.set("backbone.layers.0.mixer.x_proj.weight", { shape: [2], data: new Float32Array(2) }),
        ),
      /unexpected tensor "backbone.layers.0.mixer.x_proj.weight"/,
    ],
    [
      "a NaN weight",
      () => withTensors((t) => (t.get("backbone.norm_f.weight")!.data[3] = NaN)),
      /tensor "backbone.norm_f.weight" holds NaN at flat index 3/,
    ],
  ];
  for (const [what, make, message] of cases)
    it(what, () => expect(() => loadMamba2Checkpoint(make())).toThrow(message));

  it("a save of an invalid model creates nothing and leaves an earlier checkpoint as it was", () => {
    const dir = fresh();
    saveMamba2Checkpoint(model, dir);
    const before = readFileSync(path.join(dir, "model.safetensors"));
    const bad = new Map(model.params);
    const w = bad.get("backbone.norm_f.weight")!;
    bad.set("backbone.norm_f.weight", {
      shape: w.shape,
      data: w.data.map((v, i) => (i ? v : Infinity)),
    });
    expect(() => saveMamba2Checkpoint({ ...model, params: bad }, dir)).toThrow(
      /saveMamba2Checkpoint: argument 'model.params' must hold finite values \(got Infinity in "backbone.norm_f.weight"/,
    );
    expect(readFileSync(path.join(dir, "model.safetensors")).equals(before)).toBe(true);
    const other = fresh();
    expect(() => saveMamba2Checkpoint({ ...model, params: bad }, other)).toThrow();
    expect(existsSync(other)).toBe(false);
  });
});
