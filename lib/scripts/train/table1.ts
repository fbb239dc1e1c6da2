/**
 * Table 1 of Gu & Dao (2023) in miniature: selective copying with three models of the same size
 * and parameter layout (d_model 64, 2 layers, N 16, vocabulary 16): an S4-like LTI layer without
 * gate ("lti"), S6 without gate ("s6") and the full Mamba block ("mamba"). Each is trained on
 * fresh selective-copying examples (lesson 05's task; by default the sizes of the committed set,
 * 64 positions and 8 data tokens, or --length/--tokens), evaluated on a held-out set (the committed
 * test split when the sizes match, else 400 examples from its test seed), and saved with
 * saveMambaCheckpoint (the variant in config.json as `mamba_ts_variant`, the run's settings and
 * accuracy in `table1.json`). The committed checkpoints used --length 16 --tokens 4 (see
 * datasets/README.md).
 *
 *   npm run train -- table1 [--out datasets/checkpoints/table1] [--steps 600]
 *     [--batch 16] [--lr 0.003] [--seed 0] [--variants lti,s6,mamba] [--length 64] [--tokens 8]
 *     [--eval-every 100]
 */
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import { Rng } from "../../dist/rng";
import { initMamba } from "../../dist/mamba/init";
import { saveMambaCheckpoint } from "../../dist/mamba/checkpoint";
import { selectiveCopying } from "../../dist/tasks/copying";
import { SELECTIVE_COPYING_SET, generateSelectiveCopyingSplit } from "../../dist/tasks/fixed";
import { type MixerVariant } from "../../dist/mamba/model";
import { trainMamba } from "../../dist/train/loop";
import { taskAccuracy, taskBatch } from "../../dist/train/tasks";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

/** The model of every row: the same config, so the same parameter count. */
const TABLE1_CONFIG = {
  vocab_size: 16,
  hidden_size: 64,
  num_hidden_layers: 2,
  state_size: 16,
};

async function main(): Promise<void> {
  const out = arg("out", "datasets/checkpoints/table1");
  const steps = Number(arg("steps", "600"));
  const batchSize = Number(arg("batch", "16"));
  const peakLr = Number(arg("lr", "0.003"));
  const seed = Number(arg("seed", "0"));
  const variants = arg("variants", "lti,s6,mamba").split(",") as MixerVariant[];
  const evalEvery = Number(arg("eval-every", "100"));
  const length = Number(arg("length", String(SELECTIVE_COPYING_SET.options.length)));
  const numTokens = Number(arg("tokens", String(SELECTIVE_COPYING_SET.options.numTokens)));
  const taskOptions = { length, numTokens, vocabSize: 16 };
  const committed =
    length === SELECTIVE_COPYING_SET.options.length &&
    numTokens === SELECTIVE_COPYING_SET.options.numTokens;
  // The committed set's test split when the sizes match; else a held-out set from its test seed.
  const testSeed = SELECTIVE_COPYING_SET.splits.test.seed;
  const test = committed
    ? generateSelectiveCopyingSplit("test")
    : selectiveCopying(new Rng(testSeed), { ...taskOptions, count: 400 });
  const schedule = {
    peakLr,
    warmupSteps: Math.min(50, steps),
    totalSteps: steps,
    minLr: peakLr / 10,
  };
  const adamw = { beta1: 0.9, beta2: 0.95, weightDecay: 0.1 };
  console.log(
    `selective copying: length ${length}, ${numTokens} data tokens, vocab 16; ${steps} steps of ${batchSize} examples; test: ${test.count} examples`,
  );
  const rows: string[] = [];
  for (const variant of variants) {
    const model = initMamba(TABLE1_CONFIG, new Rng(seed));
    model.extraConfig = { mamba_ts_variant: variant };
    const started = Date.now();
    const result = await trainMamba(model, {
      batch: (rng) => taskBatch(selectiveCopying(rng, { ...taskOptions, count: batchSize })),
      schedule,
      adamw,
      clip: 1,
      variant,
      seed: seed + 1,
      display: false,
      onStep: (r) => {
        if (evalEvery > 0 && r.step % evalEvery === 0) {
          const acc = taskAccuracy(model, { ...test, count: 100 }, { variant });
          console.log(
            `${variant} step ${r.step}: test accuracy (first 100 examples) ${(acc * 100).toFixed(1)}%`,
          );
        }
        if (r.step % 25 === 0 || r.step === 1) {
          console.log(
            `${variant} step ${r.step}: loss ${r.loss.toFixed(4)} acc ${(r.accuracy * 100).toFixed(1)}% lr ${r.lr.toExponential(2)} |g| ${r.gradNorm.toFixed(3)} ${Math.round(r.tokensPerSecond)} tok/s`,
          );
        }
      },
    });
    const seconds = (Date.now() - started) / 1000;
    const accuracy = taskAccuracy(model, test, { variant });
    const dir = path.join(out, variant);
    saveMambaCheckpoint(model, dir);
    const last = result.history[result.history.length - 1];
    writeFileSync(
      path.join(dir, "table1.json"),
      JSON.stringify(
        {
          variant,
          task: "selective-copying",
          task_options: taskOptions,
          test_split: committed
            ? "generateSelectiveCopyingSplit('test') (datasets/selective-copying.json, test)"
            : `selectiveCopying(new Rng(${testSeed}), { ...task_options, count: 400 })`,
          test_accuracy: accuracy,
          steps: result.state.step,
          batch_size: batchSize,
          schedule,
          adamw,
          clip: 1,
          seed,
          final_train_loss: last.loss,
          seconds,
          command: `npm run train -- table1 ${process.argv.slice(2).join(" ")}`.trim(),
        },
        null,
        2,
      ) + "\n",
    );
    const row = `${variant}: test accuracy ${(accuracy * 100).toFixed(1)}% after ${result.state.step} steps (${seconds.toFixed(0)} s)`;
    console.log(row);
    rows.push(row);
  }
  console.log("\nTable 1 in miniature (selective copying, held-out accuracy):\n" + rows.join("\n"));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
