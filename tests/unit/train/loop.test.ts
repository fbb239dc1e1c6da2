/**
 * trainMamba, trainTransformer and trainMamba2 (lib/src/train/loop.ts): the steps of a loop written here (loss
 * and grads, clipping, AdamW, the schedule) taken exactly; resuming from a saved state gives the
 * uninterrupted loss curve; an aborted run keeps its steps; a tiny Mamba learns plain copying;
 * option errors.
 */
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  Rng,
  copying,
  initMamba,
  loadMambaCheckpoint,
  loadTrainingState,
  saveMambaCheckpoint,
  saveTrainingState,
  taskAccuracy,
  taskBatch,
  trainMamba,
  adamwStep,
  clipGradNorm,
  createAdamW,
  inductionHeads,
  initTransformer,
  learningRate,
  trainTransformer,
  transformerLossAndGrads,
  trainMamba2,
  mamba2LossAndGrads,
} from "../../../lib/src/index";
import { SMALL_LLAMA } from "../../helpers/reference";
import { randomMamba2Model } from "../../helpers/mamba2-reference";

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const tmp = () => {
  const d = mkdtempSync(path.join(tmpdir(), "mamba-train-"));
  dirs.push(d);
  return d;
};

const tiny = { vocab_size: 8, hidden_size: 16, num_hidden_layers: 1, state_size: 4 };
/** Random token batches (4 × 12) drawn from the loop's RNG. */
const randomBatch = (rng: Rng) => ({
  tokens: Array.from({ length: 4 }, () => Array.from({ length: 12 }, () => rng.int(8))),
});
const schedule = { peakLr: 0.01, warmupSteps: 2, totalSteps: 8 };

describe("trainMamba", () => {
  it("resuming from a saved checkpoint + training state gives the same loss curve as an uninterrupted run", async () => {
    const whole = initMamba(tiny, new Rng(3));
    const a = await trainMamba(whole, { batch: randomBatch, schedule, seed: 9, display: false });
    expect(a.stopped).toBe("done");
    expect(a.history).toHaveLength(8);

    const first = initMamba(tiny, new Rng(3));
    const b1 = await trainMamba(first, {
      batch: randomBatch,
      schedule,
      seed: 9,
      maxSteps: 3,
      display: false,
    });
    expect(b1.stopped).toBe("maxSteps");
    const dir = tmp();
    saveMambaCheckpoint(first, dir);
    saveTrainingState(b1.state, first, dir);
    const resumed = loadMambaCheckpoint(dir);
    const state = loadTrainingState(dir, resumed);
    expect(state.step).toBe(3);
    const b2 = await trainMamba(resumed, { batch: randomBatch, schedule, state, display: false });
    const curve = [...b1.history, ...b2.history].map((r) => r.loss);
    expect(curve).toEqual(a.history.map((r) => r.loss));
    for (const [name, p] of whole.params)
      expect(Array.from(resumed.params.get(name)!.data)).toEqual(Array.from(p.data));
  });

  it("names trainMamba and the option the user gave, for the model, the schedule, AdamW and every batch", async () => {
    const model = initMamba(tiny, new Rng(1));
    const run = (options: Record<string, unknown>, m: unknown = model) =>
      trainMamba(m as never, { batch: randomBatch, schedule, display: false, ...options } as never);
    await expect(run({}, null)).rejects.toThrow(/^trainMamba: argument 'model' must be/);
    await expect(run({ schedule: { ...schedule, peakLr: NaN } })).rejects.toThrow(
      /^trainMamba: argument 'options.schedule.peakLr' must be a finite number >= 0 \(got NaN\)/,
    );
    await expect(run({ adamw: { lr: 0 } })).rejects.toThrow(
      /^trainMamba: argument 'options.adamw' must be AdamW's settings without lr \(the schedule sets the learning rate\) \{ .* \} \(got an unknown key "lr"/,
    );
    await expect(run({ pool: {}, engine: "simd-threads" })).rejects.toThrow(
      /^trainMamba: argument 'options.pool' must be a pool from createTrainPool/,
    );
    await expect(run({ batch: () => undefined })).rejects.toThrow(
      /^trainMamba: argument 'options.batch\(\.\.\.\)' must be a batch \{ tokens, targets\?, mask\? \} \(got undefined\)/,
    );
    await expect(run({ batch: () => ({ tokens: [[1, 99]] }) })).rejects.toThrow(
      /^trainMamba: argument 'options.batch\(\.\.\.\)\.tokens' must be token ids in \[0, 8\)/,
    );
    await expect(run({ batch: () => ({ tokens: [[1], [2]] }) })).rejects.toThrow(
      /^trainMamba: argument 'options.batch\(\.\.\.\)\.tokens' must leave at least one position with a target/,
    );
  });

  it("stops a diverging run before the update that would break the model", async () => {
    const model = initMamba(tiny, new Rng(1));
    const wild = { peakLr: 1e6, warmupSteps: 0, totalSteps: 50, minLr: 1e6 };
    await expect(
      trainMamba(model, { batch: randomBatch, schedule: wild, clip: Infinity, display: false }),
    ).rejects.toThrow(
      /^trainMamba: training diverged at step \d+: loss .*the model keeps the weights of step \d+/,
    );
    for (const [name, p] of model.params) {
      for (const v of p.data) expect(Number.isFinite(v), name).toBe(true);
    }
  });

  it("refuses a training state of another model, a damaged state file and bad options", async () => {
    const model = initMamba(tiny, new Rng(1));
    const r = await trainMamba(model, {
      batch: randomBatch,
      schedule,
      maxSteps: 1,
      display: false,
    });
    const dir = tmp();
    saveTrainingState(r.state, model, dir);
    const other = initMamba({ ...tiny, hidden_size: 32 }, new Rng(1));
    expect(() => loadTrainingState(dir, other)).toThrow(
      /loadTrainingState: argument 'dir' must be a folder holding a training state: file '.*training_state.json': parameter "backbone.embeddings.weight" had shape \[8, 16\], the model's is \[8, 32\]/,
    );
    await expect(
      trainMamba(other, { batch: randomBatch, schedule, state: r.state, display: false }),
    ).rejects.toThrow(
      /trainMamba: argument 'options.state' must hold optimiser moments for the model's parameters \(got none of the right size/,
    );
    const json = path.join(dir, "training_state.json");
    const raw = JSON.parse(readFileSync(json, "utf8"));
    writeFileSync(
      json,
      JSON.stringify({ ...raw, rng: { words: [0, 0, 0, 0], spareNormal: null } }),
    );
    expect(() => loadTrainingState(dir, model)).toThrow(
      /training_state\.json': Rng\.fromState: .*all zero/,
    );
    writeFileSync(json, JSON.stringify({ ...raw, format: "other" }));
    expect(() => loadTrainingState(dir, model)).toThrow(
      /training_state\.json': format must be "mamba-ts-training-state\/1" \(got "other"\)/,
    );
    await expect(
      trainMamba(model, { batch: randomBatch, schedule, lr: 1 } as never),
    ).rejects.toThrow(
      /trainMamba: argument 'options' must be an options object \{ .* \} \(got an unknown key "lr"/,
    );
    await expect(
      trainMamba(model, { batch: randomBatch, schedule: { ...schedule, totalSteps: 0 } }),
    ).rejects.toThrow(/schedule.totalSteps/);
  });

  it("stops cleanly when its signal is aborted, keeping the steps done", async () => {
    const model = initMamba(tiny, new Rng(2));
    const controller = new AbortController();
    const r = await trainMamba(model, {
      batch: randomBatch,
      schedule,
      display: false,
      signal: controller.signal,
      onStep: (s) => s.step === 2 && controller.abort(),
    });
    expect(r.stopped).toBe("interrupted");
    expect(r.state.step).toBe(2);
  });

  it("a seeded tiny Mamba learns plain copying far above chance (25%), deterministically", async () => {
    const opts = { length: 4, numTokens: 3, vocabSize: 6 }; // data tokens 1..4: chance is 25%
    const train = async () => {
      const model = initMamba(
        { vocab_size: 6, hidden_size: 16, num_hidden_layers: 1, state_size: 4 },
        new Rng(0),
      );
      const r = await trainMamba(model, {
        batch: (rng) => taskBatch(copying(rng, { ...opts, count: 16 })),
        schedule: { peakLr: 0.01, warmupSteps: 10, totalSteps: 200 },
        seed: 5,
        display: false,
      });
      return { model, r };
    };
    const { model, r } = await train();
    const acc = taskAccuracy(model, copying(new Rng(77), { ...opts, count: 200 }));
    expect(acc).toBeGreaterThan(0.45); // chance: 0.25
    const again = await train();
    expect(again.r.history.map((s) => s.loss)).toEqual(r.history.map((s) => s.loss));
  }, 120_000);
});

describe("trainTransformer", () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  const tiny = { ...SMALL_LLAMA, num_hidden_layers: 1 };
  const batch = (rng: Rng) =>
    taskBatch(inductionHeads(rng, { count: 3, length: 10, vocabSize: 16 }));
  const schedule = { peakLr: 0.01, warmupSteps: 2, totalSteps: 6 };

  it("takes the steps of a hand-written loop (transformerLossAndGrads, clip 1, AdamW) exactly", async () => {
    const model = initTransformer(tiny, new Rng(2));
    const result = await trainTransformer(model, { batch, schedule, seed: 4, display: false });
    expect(result.stopped).toBe("done");
    const ref = initTransformer(tiny, new Rng(2));
    const opt = createAdamW(ref.params);
    const rng = new Rng(4);
    const losses: number[] = [];
    for (let step = 0; step < 6; step++) {
      const b = batch(rng);
      const { loss, grads } = transformerLossAndGrads(ref, b.tokens, { targets: b.targets });
      clipGradNorm(grads, 1);
      adamwStep(ref.params, grads, opt, { lr: learningRate(step, schedule) });
      losses.push(loss);
    }
    expect(result.history.map((r) => r.loss)).toEqual(losses);
    for (const [name, p] of model.params)
      expect(Array.from(p.data)).toEqual(Array.from(ref.params.get(name)!.data));
  });

  it("resumes from a saved training state with the same loss curve", async () => {
    const whole = initTransformer(tiny, new Rng(5));
    const a = await trainTransformer(whole, { batch, schedule, seed: 1, display: false });
    const part = initTransformer(tiny, new Rng(5));
    const first = await trainTransformer(part, {
      batch,
      schedule,
      seed: 1,
      display: false,
      maxSteps: 2,
    });
    expect(first.stopped).toBe("maxSteps");
    const dir = mkdtempSync(path.join(tmpdir(), "tf-train-"));
    dirs.push(dir);
    saveTrainingState(first.state, part, dir);
    const state = loadTrainingState(dir, part);
    const rest = await trainTransformer(part, { batch, schedule, state, display: false });
    expect([...first.history, ...rest.history].map((r) => r.loss)).toEqual(
      a.history.map((r) => r.loss),
    );
  });

  it("rejects Mamba-only options and bad models", async () => {
    const model = initTransformer(tiny, new Rng(0));
    await expect(
      trainTransformer(model, { batch, schedule, variant: "s6" } as never),
    ).rejects.toThrow(
      /trainTransformer: argument 'options' must be an options object \{ .* \} \(got an unknown key "variant"/,
    );
    await expect(trainTransformer({} as never, { batch, schedule })).rejects.toThrow(
      /trainTransformer: argument 'model' must be/,
    );
  });

  it("names trainTransformer and what options.batch returned for a bad batch, and refuses a non-finite model", async () => {
    const model = initTransformer(tiny, new Rng(0));
    const opts = { schedule, display: false };
    await expect(
      trainTransformer(model, { ...opts, batch: () => ({ tokens: [[1, 99]] }) }),
    ).rejects.toThrow(
      /^trainTransformer: argument 'options.batch\(\.\.\.\)\.tokens' must be token ids/,
    );
    await expect(
      trainTransformer(model, { ...opts, batch: () => ({ tokens: [[1, 2]], targets: [[1]] }) }),
    ).rejects.toThrow(/^trainTransformer: argument 'options.batch\(\.\.\.\)\.targets'/);
    model.params.get("model.norm.weight")!.data[0] = NaN;
    await expect(trainTransformer(model, { ...opts, batch })).rejects.toThrow(
      /^trainTransformer: .*model\.norm\.weight/,
    );
  });
});

describe("trainMamba2", () => {
  const config = {
    vocab_size: 16,
    hidden_size: 16,
    num_hidden_layers: 1,
    state_size: 8,
    head_dim: 8,
    n_groups: 1,
    conv_kernel: 4,
    chunk_size: 4,
  };
  const batch = (rng: Rng) =>
    taskBatch(inductionHeads(rng, { count: 3, length: 10, vocabSize: 16 }));
  const schedule = { peakLr: 0.01, warmupSteps: 2, totalSteps: 6 };

  for (const engine of ["typescript", "simd"] as const) {
    it(`takes the steps of a hand-written loop (mamba2LossAndGrads, clip 1, AdamW) exactly (${engine})`, async () => {
      const model = randomMamba2Model(config, 2);
      const result = await trainMamba2(model, { batch, schedule, seed: 4, engine, display: false });
      expect(result.stopped).toBe("done");
      const ref = randomMamba2Model(config, 2);
      const opt = createAdamW(ref.params);
      const rng = new Rng(4);
      const losses: number[] = [];
      for (let step = 0; step < 6; step++) {
        const b = batch(rng);
        const { loss, grads } = mamba2LossAndGrads(ref, b.tokens, { targets: b.targets, engine });
        clipGradNorm(grads, 1);
        adamwStep(ref.params, grads, opt, { lr: learningRate(step, schedule) });
        losses.push(loss);
      }
      expect(result.history.map((r) => r.loss)).toEqual(losses);
      expect(losses[5]).not.toEqual(losses[0]);
      for (const [name, p] of model.params)
        expect(Array.from(p.data)).toEqual(Array.from(ref.params.get(name)!.data));
    });
  }

  it("rejects Mamba-only options, bad engines and bad models, naming itself", async () => {
    const model = randomMamba2Model(config, 0);
    await expect(trainMamba2(model, { batch, schedule, variant: "s6" } as never)).rejects.toThrow(
      /trainMamba2: argument 'options' must be an options object \{ .* \} \(got an unknown key "variant"/,
    );
    await expect(trainMamba2(model, { batch, schedule, engine: "gpu" as never })).rejects.toThrow(
      /trainMamba2: argument 'options.engine' must be one of/,
    );
    await expect(trainMamba2({} as never, { batch, schedule })).rejects.toThrow(
      /trainMamba2: argument 'model' must be/,
    );
  });

  it("names trainMamba2 and what options.batch returned for a bad batch, and refuses a non-finite model", async () => {
    const model = randomMamba2Model(config, 0);
    const opts = { schedule, display: false };
    await expect(
      trainMamba2(model, { ...opts, batch: () => ({ tokens: [[1, 99]] }) }),
    ).rejects.toThrow(/^trainMamba2: argument 'options.batch\(\.\.\.\)\.tokens' must be token ids/);
    await expect(
      trainMamba2(model, { ...opts, batch: () => ({ tokens: [[1, 2]], mask: [1] }) }),
    ).rejects.toThrow(/^trainMamba2: argument 'options.batch\(\.\.\.\)\.mask'/);
    model.params.get("backbone.norm_f.weight")!.data[0] = NaN;
    await expect(trainMamba2(model, { ...opts, batch })).rejects.toThrow(
      /^trainMamba2: .*backbone\.norm_f\.weight/,
    );
  });
});
