/**
 * mambaLossAndGrads (lib/src/mamba/grads.ts): every parameter's gradient of the whole model against
 * central finite differences in float64 (one and two layers, tied and untied heads, targets and a
 * mask, the Table 1 ablations); grads keyed by the checkpoint's tensor names; the loss equals the
 * cross-entropy of mambaForward's logits.
 */
import { describe, expect, it } from "vitest";
import {
  Rng,
  type Tensor,
  type MambaModel,
  crossEntropy,
  initMamba,
  mambaConfig,
  mambaForward,
  mambaLossAndGrads,
} from "../../../lib/src/index";

/** The MambaForCausalLM tensor names and shapes, written out here from the Hugging Face layout. */
function paramShapes(c: MambaModel["config"]): Map<string, number[]> {
  const { hidden_size: d, intermediate_size: E, state_size: N, time_step_rank: R } = c;
  const s = new Map<string, number[]>([["backbone.embeddings.weight", [c.vocab_size, d]]]);
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const m = `backbone.layers.${i}.mixer.`;
    s.set(`backbone.layers.${i}.norm.weight`, [d]);
    s.set(m + "in_proj.weight", [2 * E, d]);
    s.set(m + "conv1d.weight", [E, 1, c.conv_kernel]);
    s.set(m + "conv1d.bias", [E]);
    s.set(m + "x_proj.weight", [R + 2 * N, E]);
    s.set(m + "dt_proj.weight", [E, R]);
    s.set(m + "dt_proj.bias", [E]);
    s.set(m + "A_log", [E, N]);
    s.set(m + "D", [E]);
    s.set(m + "out_proj.weight", [d, E]);
  }
  s.set("backbone.norm_f.weight", [d]);
  if (!c.tie_word_embeddings) s.set("lm_head.weight", [c.vocab_size, d]);
  return s;
}

/** A tiny float64 model with random parameters (A_log = log(1..N), positive dt bias) for gradient checks. */
function tinyModel(rng: Rng, layers: number, tie = true): MambaModel {
  const config = mambaConfig({
    vocab_size: 5,
    hidden_size: 4,
    num_hidden_layers: layers,
    state_size: 3,
    conv_kernel: 3,
    time_step_rank: 2,
    intermediate_size: 8,
    layer_norm_epsilon: 1e-5,
    use_bias: false,
    use_conv_bias: true,
    tie_word_embeddings: tie,
  });
  const params = new Map<string, Tensor>();
  for (const [name, shape] of paramShapes(config)) {
    const t = rng.randn(shape, 0.5);
    if (name.endsWith("A_log"))
      t.data.forEach((_, i) => (t.data[i] = Math.log(1 + (i % 3)) + 0.1 * rng.normal()));
    if (name.endsWith("norm.weight") || name.endsWith("norm_f.weight"))
      t.data.forEach((_, i) => (t.data[i] = 1 + 0.2 * rng.normal()));
    params.set(name, t);
  }
  return { config, params };
}

function gradCheck(
  model: MambaModel,
  tokens: number[][],
  opts: Parameters<typeof mambaLossAndGrads>[2],
) {
  const { grads, loss } = mambaLossAndGrads(model, tokens, opts);
  expect(Number.isFinite(loss)).toBe(true);
  let worst = 0;
  for (const [name, p] of model.params) {
    const g = grads.get(name)!;
    expect(g.shape, name).toEqual(p.shape);
    for (let i = 0; i < p.data.length; i++) {
      const keep = p.data[i];
      p.data[i] = keep + 1e-6;
      const up = mambaLossAndGrads(model, tokens, opts).loss;
      p.data[i] = keep - 1e-6;
      const down = mambaLossAndGrads(model, tokens, opts).loss;
      p.data[i] = keep;
      const fd = (up - down) / 2e-6;
      const err = Math.abs(fd - g.data[i]) / (1e-4 + Math.abs(fd));
      worst = Math.max(worst, err);
      expect(err, `${name}[${i}]: fd ${fd} vs ${g.data[i]}`).toBeLessThan(1e-5);
    }
  }
  return worst;
}

describe("mambaLossAndGrads: gradients of the whole model against central finite differences (float64)", () => {
  const tokens = [
    [1, 3, 0, 4, 2, 2],
    [0, 1, 1, 3, 4, 0],
  ];
  it("one Mamba block (tied head), every parameter", () => {
    gradCheck(tinyModel(new Rng(1), 1), tokens, { chunkSize: 4 });
  });
  it("a two-layer model with an untied head, targets and a mask, store-all scan", () => {
    const targets = [
      [2, 2, 2, 2, 2, 2],
      [1, -100, 3, 3, 0, 4],
    ];
    const mask = [0, 1, 1, 0, 1, 1, 1, 1, 1, 1, 0, 1];
    gradCheck(tinyModel(new Rng(2), 2, false), tokens, {
      targets,
      mask,
      scanStrategy: "store-all",
    });
  });
  for (const variant of ["s6", "lti", "mamba-lti"] as const) {
    it(`Table 1 ablation "${variant}": every parameter`, () => {
      gradCheck(tinyModel(new Rng(3), 1), tokens, { variant });
    });
  }
  it("grads are keyed by every checkpoint tensor name; bad input is refused", () => {
    const model = tinyModel(new Rng(4), 2);
    const { grads } = mambaLossAndGrads(model, tokens);
    expect([...grads.keys()]).toEqual([...paramShapes(model.config).keys()]);
    expect(() => mambaLossAndGrads(model, [[1, 9]])).toThrow(
      /mambaLossAndGrads: argument 'tokens' must be token ids in \[0, 5\)/,
    );
    expect(() => mambaLossAndGrads(model, tokens, { variant: "s4" as never })).toThrow(
      /mambaLossAndGrads: argument 'options.variant'/,
    );
    expect(() => mambaLossAndGrads(model, tokens, { lr: 1 } as never)).toThrow(/unknown key "lr"/);
    expect(() => mambaLossAndGrads(model, tokens, { targets: [[1]] })).toThrow(
      /argument 'options.targets' must be a \(b, l\) batch of shape \[2, 6\]/,
    );
  });
  it("its loss equals cross-entropy of mambaForward's logits (the model's own forward), float32", () => {
    const model = initMamba({ vocab_size: 7, hidden_size: 16, num_hidden_layers: 2 }, new Rng(8));
    const ids = [
      [1, 2, 3, 4, 5, 6, 0, 1, 2, 3],
      [6, 5, 4, 3, 2, 1, 0, 6, 5, 4],
    ];
    const logits = mambaForward(model, ids);
    const targets = new Int32Array(20).fill(-100);
    ids.forEach((r, i) => r.slice(1).forEach((v, j) => (targets[i * 10 + j] = v)));
    const want = crossEntropy(logits, targets).loss;
    const got = mambaLossAndGrads(model, ids, { chunkSize: 3 });
    expect(Math.abs(got.loss - want)).toBeLessThan(1e-5 * want);
    expect(got.count).toBe(18);
  });
});
