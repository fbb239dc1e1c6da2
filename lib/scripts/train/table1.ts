/**
 * Table 1 of Gu & Dao (2023) at the paper's task sizes where this machine affords them: selective
 * copying with vocabulary 16 and 16 data tokens among `--length` positions (256 here; the paper
 * uses 4096), 2-layer models with d_model 64 (the paper's D = 64), one per mixer of
 * `MIXER_VARIANTS`: "lti" (S4 without gate), "s6" (S6 without gate), "mamba-lti" (the Mamba block
 * around the time-invariant SSM: the paper's "Mamba, S4") and "mamba" (Mamba, S6). Plain copying
 * (the data tokens always at positions 0..15) is the control that a time-invariant layer must
 * solve. Every variant has the same config and parameter count (66,496).
 *
 * A run trains at a constant learning rate (after a linear warmup) on fresh examples drawn from
 * its seeded stream, scores a fixed validation set every `--eval-every` steps, and stops when the
 * validation curve is flat: "solved" once the validation accuracy reaches `--solved` (99.5%:
 * less than the tolerance is left to gain), "flat" once the best validation accuracy of the last
 * `--window` steps is less than `--tol` (1 point) above the best before them (checked from step
 * 2·window on), else at `--max-steps` (recorded as "cap": not flat). `--time-limit` ends this
 * invocation after that many seconds of training (between two steps; recorded as "time limit":
 * not finished, `--resume` continues it). At every stop it scores the held-out test set (400
 * examples from the test seed, `taskAccuracy`, the reference engine) and writes its record.
 *
 * The Table 1 recipe (`TABLE1_RECIPE`): batch 32, constant lr 3e-3 after 100 warmup steps, AdamW
 * without weight decay, clip 1. The paper trains at constant 1e-4, batch 64, for 400K steps; a
 * run here affords a few thousand steps, and the sweep's Mamba runs (records with other learning
 * rates, `phase summary` lists them as "sweep") learned fastest at 3e-3: 1e-3 was at 11% after 800
 * steps where 3e-3 was at 19%, and 1e-2 had not left chance (7-10%) after 600 steps.
 *
 *   npm run train -- table1 --phase train --variant mamba|s6|lti|mamba-lti --seed 0
 *     [--task selective|copying] [--length 256] [--tokens 16] [--batch 32] [--lr 0.003]
 *     [--warmup 100] [--weight-decay 0] [--init default|linear] [--eval-every 100]
 *     [--window 600] [--tol 0.01] [--solved 0.995] [--max-steps 12000] [--save-every 100]
 *     [--keep DIR] [--resume] [--time-limit SECONDS] [--threads N] [--out datasets/checkpoints/table1]
 *     [--work .train/table1]
 *   npm run train -- table1 --phase summary [--out datasets/checkpoints/table1]
 *
 * `table1-device.sh` beside this file runs the table's 13 runs side by side, one thread each, in
 * time-limited slices on a machine with more cores, and brings their records and state back.
 *
 * Train writes, for a run named `<task>-<variant>-<recipe>-s<seed>`:
 * - `OUT/runs/<name>.json`: settings, the curves (training loss and accuracy averaged over each
 *   evaluation interval, validation loss and accuracy at each evaluation), why it stopped, the
 *   steps, tokens and seconds, the test accuracy and every command that shaped it;
 * - `OUT/runs/<name>.log`: its log;
 * - `WORK/<name>/`: the model and training state after every `--save-every` steps (`--resume`
 *   continues from there; not committed);
 * - with `--keep DIR`: the finished model in `OUT/DIR/` (config.json + model.safetensors, the
 *   variant in `mamba_ts_variant`) and `OUT/DIR/table1.json` (the run's settings and accuracy).
 * Summary writes `OUT/table1.json`: per task, variant and recipe, the test accuracy of each seed,
 * mean, standard deviation, min and max, the steps and why each run stopped; a row's role is
 * "main" (selective copying with the Table 1 recipe), "control" (plain copying) or "sweep".
 * `--threads` sets the training threads (default: all cores); the engine's sums, and so the
 * model, depend on it, and the command records it.
 *
 * `--init linear` starts a time-invariant variant with upstream's Linear default for the x_proj
 * rows that hold its B and C (±1/√E, near 0) instead of initMamba's S4D-Real (B = 1,
 * C ~ N(0, 1)): one of the settings the sweep tried. Deterministic: the same command gives the
 * same model on the same Node.js version (the "simd-threads" engine combines the threads' shares
 * in a fixed order).
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { Rng } from "../../dist/rng";
import { initMamba } from "../../dist/mamba/init";
import { loadMambaCheckpoint, saveMambaCheckpoint } from "../../dist/mamba/checkpoint";
import { mambaParamCount, mambaConfig } from "../../dist/mamba/config";
import { mambaLossAndGrads } from "../../dist/mamba/grads";
import { MIXER_VARIANTS, type MambaModel, type MixerVariant } from "../../dist/mamba/model";
import { copying, selectiveCopying } from "../../dist/tasks/copying";
import type { CopyingSet } from "../../dist/tasks/types";
import { trainMamba } from "../../dist/train/loop";
import { loadTrainingState, saveTrainingState } from "../../dist/train/state";
import { taskAccuracy, taskBatch } from "../../dist/train/tasks";
import { createTrainPool } from "../../dist/ops/simd/threads";
import {
  EvaluationLog,
  arg,
  checkCommandLine,
  flag,
  logger,
  runCommand,
  type Evaluation,
  type Progress,
} from "../train-common";

/** The model of every row: the same config, so the same parameter count (66,496). */
export const TABLE1_CONFIG = {
  vocab_size: 16,
  hidden_size: 64,
  num_hidden_layers: 2,
  state_size: 16,
};
/** The recipe of the table's rows (see the top of this file for why). */
export const TABLE1_RECIPE = { lr: 0.003, batch: 32, weightDecay: 0, init: "default", length: 256 };
/** Seed of the held-out test set (the committed selective-copying test split's seed). */
export const TEST_SEED = 20231202;
/** Examples in the test set. */
export const TEST_COUNT = 400;
/** Seed and size of the validation set the stopping rule watches (never the test set). */
export const VALIDATION_SEED = 20231203;
export const VALIDATION_COUNT = 256;

type Task = "selective" | "copying";

/** The generator of a task: selective copying (random positions) or plain copying (fixed). */
function generator(task: Task): (rng: Rng, o: Parameters<typeof copying>[1]) => CopyingSet {
  return task === "selective" ? selectiveCopying : copying;
}

/** A fresh model of `variant`: initMamba's init, or ("linear") Linear-default B and C. */
function newModel(variant: MixerVariant, init: string, seed: number): MambaModel {
  if (init === "default") return initMamba(TABLE1_CONFIG, new Rng(seed), { variant });
  if (init === "linear") {
    const model = initMamba(TABLE1_CONFIG, new Rng(seed));
    model.extraConfig = { mamba_ts_variant: variant };
    return model;
  }
  throw new Error(`--init must be default or linear (got ${init})`);
}

/**
 * Whether the validation curve is flat at its last evaluation: "solved" once the validation
 * accuracy reaches `solved` (what is left to gain is below the tolerance), "flat" once the best
 * accuracy of the last `window` steps is less than `tol` above the best before them (only from
 * step 2·window on, so that "before" spans at least one window); else null.
 */
export function plateau(
  evaluations: Evaluation[],
  window: number,
  tol: number,
  solved: number,
): "solved" | "flat" | null {
  const last = evaluations[evaluations.length - 1];
  if (!last) return null;
  if (last.accuracy >= solved) return "solved";
  if (last.step < 2 * window) return null;
  let before = -Infinity;
  let recent = -Infinity;
  for (const e of evaluations) {
    if (e.step <= last.step - window) before = Math.max(before, e.accuracy);
    else recent = Math.max(recent, e.accuracy);
  }
  return recent - before < tol ? "flat" : null;
}

async function train(out: string, work: string): Promise<void> {
  const variant = arg("variant", "mamba") as MixerVariant;
  if (!MIXER_VARIANTS.includes(variant))
    throw new Error(`--variant must be one of ${MIXER_VARIANTS.join(", ")} (got ${variant})`);
  const task = arg("task", "selective") as Task;
  if (task !== "selective" && task !== "copying")
    throw new Error(`--task must be selective or copying (got ${task})`);
  const length = Number(arg("length", "256"));
  const numTokens = Number(arg("tokens", "16"));
  const batchSize = Number(arg("batch", "32"));
  const lr = Number(arg("lr", String(TABLE1_RECIPE.lr)));
  const warmup = Number(arg("warmup", "100"));
  const weightDecay = Number(arg("weight-decay", "0"));
  const init = arg("init", "default");
  const seed = Number(arg("seed", "0"));
  const evalEvery = Number(arg("eval-every", "100"));
  const window = Number(arg("window", "600"));
  const tol = Number(arg("tol", "0.01"));
  const solved = Number(arg("solved", "0.995"));
  const maxSteps = Number(arg("max-steps", "12000"));
  const saveEvery = Number(arg("save-every", "100"));
  const timeLimit = Number(arg("time-limit", "0"));
  const keep = arg("keep", "");
  const threads = Number(arg("threads", "0"));
  if (saveEvery % evalEvery !== 0)
    throw new Error(`--save-every must be a multiple of --eval-every (${saveEvery}, ${evalEvery})`);
  const taskOptions = { length, numTokens, vocabSize: 16 };
  const recipe = `lr${lr}-b${batchSize}-wd${weightDecay}-${init}`;
  const name = `${task}-L${length}-${variant}-${recipe}-s${seed}`;
  const runDir = path.join(work, name);
  const log = logger(path.join(out, "runs", `${name}.log`));
  const resume = flag("resume") && existsSync(path.join(runDir, "training_state.json"));
  const model = resume ? loadMambaCheckpoint(runDir) : newModel(variant, init, seed);
  const state = resume ? loadTrainingState(runDir, model) : undefined;
  const progress: Progress = resume
    ? (JSON.parse(readFileSync(path.join(runDir, "progress.json"), "utf8")) as Progress)
    : { evaluations: [], train: [], seconds: 0, commands: [] };
  progress.commands.push(runCommand("table1"));
  // Constant after a linear warmup (the paper: constant 1e-4 for 400K steps); the schedule spans
  // the cap, and minLr = peakLr keeps it constant whatever step the run stops at.
  const schedule = { peakLr: lr, warmupSteps: warmup, totalSteps: maxSteps, minLr: lr };
  const adamw = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay };
  const make = generator(task);
  const validation = make(new Rng(VALIDATION_SEED), { ...taskOptions, count: VALIDATION_COUNT });
  const valBatch = taskBatch(validation);
  const pool = createTrainPool(threads > 0 ? { threads } : {});
  const evaluate = (step: number): Evaluation => {
    const r = mambaLossAndGrads(model, valBatch.tokens, {
      targets: valBatch.targets,
      engine: "simd-threads",
      pool,
    });
    return { step, loss: r.loss, accuracy: r.correct / r.count };
  };
  log(
    `${resume ? `resuming at step ${state!.step}` : "training"} ${name}: ${task} copying, length ${length}, ${numTokens} data tokens, vocab 16; ${variant}, init ${init}, ${mambaParamCount(mambaConfig(TABLE1_CONFIG))} parameters; batch ${batchSize}, lr ${lr} constant after ${warmup} warmup steps, weight decay ${weightDecay}, clip 1; stops when solved (validation accuracy >= ${solved * 100}%) or flat (the best validation accuracy of the last ${window} steps < ${tol * 100} points above the best before), else at ${maxSteps} steps`,
  );
  log(`command: ${runCommand("table1")}`);
  const evalLog = new EvaluationLog({ name, progress, evaluate, log, evalEvery, decimals: 2 });
  const started = evalLog.start(resume);
  let current = state;
  let stopped: "solved" | "flat" | "cap" | "time limit" | "interrupted" = "cap";
  for (;;) {
    const done = current?.step ?? 0;
    const verdict = plateau(progress.evaluations, window, tol, solved);
    if (verdict !== null) {
      stopped = verdict;
      break;
    }
    if (done >= maxSteps) break;
    const left = timeLimit - (Date.now() - started) / 1000;
    if (timeLimit > 0 && left <= 0) {
      stopped = "time limit";
      break;
    }
    // Slices end on multiples of --save-every (a multiple of --eval-every), so that a run resumed
    // from a time-limited slice checks its rule right after the evaluation it is about.
    const slice = Math.min(saveEvery - (done % saveEvery), maxSteps - done);
    const t0 = Date.now();
    const result = await trainMamba(model, {
      batch: (rng) => taskBatch(make(rng, { ...taskOptions, count: batchSize })),
      schedule,
      adamw,
      clip: 1,
      seed: 1000 + seed,
      engine: "simd-threads",
      pool,
      display: false,
      maxSteps: slice,
      ...(timeLimit > 0 ? { timeLimitSeconds: left } : {}),
      ...(current ? { state: current } : {}),
      onStep: evalLog.onStep,
    });
    current = result.state;
    progress.seconds += (Date.now() - t0) / 1000;
    saveMambaCheckpoint(model, runDir);
    saveTrainingState(current, model, runDir);
    progress.partial = evalLog.partial;
    writeFileSync(path.join(runDir, "progress.json"), JSON.stringify(progress) + "\n");
    if (result.stopped === "interrupted" || result.stopped === "timeLimit") {
      stopped = result.stopped === "interrupted" ? "interrupted" : "time limit";
      break;
    }
  }
  pool.close();
  const steps = current?.step ?? 0;
  const finished = stopped !== "time limit" && stopped !== "interrupted";
  const t0 = Date.now();
  const test = make(new Rng(TEST_SEED), { ...taskOptions, count: TEST_COUNT });
  const testAccuracy = taskAccuracy(model, test);
  const bestValidation = Math.max(...progress.evaluations.map((e) => e.accuracy));
  log(
    `${name}: ${finished ? "" : "not finished: "}${stopped} at step ${steps} (${((steps * batchSize * (length + numTokens)) / 1e6).toFixed(1)}M tokens, ${progress.seconds.toFixed(0)} s training); test accuracy ${(testAccuracy * 100).toFixed(2)}% (${TEST_COUNT} examples, ${((Date.now() - t0) / 1000).toFixed(0)} s to score), best validation ${(bestValidation * 100).toFixed(2)}%${finished ? "" : "; continue with --resume"}`,
  );
  const record = {
    name,
    task: task === "selective" ? "selective-copying" : "copying",
    task_options: taskOptions,
    variant,
    init,
    seed,
    parameters: mambaParamCount(mambaConfig(TABLE1_CONFIG)),
    config: TABLE1_CONFIG,
    batch_size: batchSize,
    schedule,
    adamw,
    clip: 1,
    engine: "simd-threads",
    batch_rng_seed: 1000 + seed,
    stopping: {
      rule: `solved: validation accuracy >= ${solved}; flat: the best validation accuracy of the last ${window} steps is less than ${tol} above the best before them (checked every ${evalEvery} steps from step ${2 * window}); else the cap of ${maxSteps} steps`,
      eval_every: evalEvery,
      window,
      tol,
      solved,
      max_steps: maxSteps,
      stopped,
    },
    steps,
    tokens: steps * batchSize * (length + numTokens),
    seconds: progress.seconds,
    validation: `${task === "selective" ? "selectiveCopying" : "copying"}(new Rng(${VALIDATION_SEED}), { ...task_options, count: ${VALIDATION_COUNT} })`,
    test_set: `${task === "selective" ? "selectiveCopying" : "copying"}(new Rng(${TEST_SEED}), { ...task_options, count: ${TEST_COUNT} })`,
    test_accuracy: testAccuracy,
    best_validation_accuracy: bestValidation,
    evaluations: progress.evaluations,
    train: progress.train,
    node: process.version,
    commands: progress.commands,
  };
  writeFileSync(path.join(out, "runs", `${name}.json`), JSON.stringify(record, null, 1) + "\n");
  if (keep !== "") {
    const dir = path.join(out, keep);
    saveMambaCheckpoint(model, dir);
    const { evaluations: _e, train: _t, ...summary } = record;
    writeFileSync(
      path.join(dir, "table1.json"),
      JSON.stringify({ ...summary, record: `runs/${name}.json` }, null, 2) + "\n",
    );
    log(`${name}: kept in ${dir}`);
  }
}

/** Mean, sample standard deviation, min and max. */
function stats(xs: number[]): { mean: number; sd: number; min: number; max: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd =
    xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) : NaN;
  return { mean, sd, min: Math.min(...xs), max: Math.max(...xs) };
}

function summary(out: string): void {
  const dir = path.join(out, "runs");
  type Run = {
    name: string;
    task: string;
    variant: string;
    seed: number;
    init: string;
    batch_size: number;
    schedule: { peakLr: number };
    adamw: { weightDecay: number };
    task_options: { length: number };
    steps: number;
    seconds: number;
    tokens: number;
    test_accuracy: number;
    stopping: { stopped: string };
  };
  const runs = readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => JSON.parse(readFileSync(path.join(dir, f), "utf8")) as Run);
  const groups = new Map<string, Run[]>();
  for (const r of runs) {
    const key = r.name.replace(/-s\d+$/, "");
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const rows = [...groups].map(([key, rs]) => {
    const r0 = rs[0];
    const role =
      r0.task === "copying"
        ? "control"
        : r0.schedule.peakLr === TABLE1_RECIPE.lr &&
            r0.batch_size === TABLE1_RECIPE.batch &&
            r0.adamw.weightDecay === TABLE1_RECIPE.weightDecay &&
            r0.init === TABLE1_RECIPE.init &&
            r0.task_options.length === TABLE1_RECIPE.length
          ? "main"
          : "sweep";
    return {
      key,
      role,
      task: r0.task,
      length: r0.task_options.length,
      variant: r0.variant,
      lr: r0.schedule.peakLr,
      batch: r0.batch_size,
      weight_decay: r0.adamw.weightDecay,
      init: r0.init,
      seeds: rs.map((r) => r.seed),
      test_accuracy: rs.map((r) => r.test_accuracy),
      accuracy: stats(rs.map((r) => r.test_accuracy)),
      steps: rs.map((r) => r.steps),
      stopped: rs.map((r) => r.stopping.stopped),
      seconds: rs.map((r) => r.seconds),
      runs: rs.map((r) => `runs/${r.name}.json`),
    };
  });
  const total = runs.reduce((a, r) => a + r.seconds, 0);
  writeFileSync(
    path.join(out, "table1.json"),
    JSON.stringify(
      {
        paper: { lti: 0.183, s6: 0.97, "mamba-lti": 0.564, mamba: 0.998 },
        training_seconds: total,
        rows,
        command: `npm run train -- table1 ${process.argv.slice(2).join(" ")}`.trim(),
      },
      null,
      2,
    ) + "\n",
  );
  for (const r of rows) {
    const pct = (x: number) => (x * 100).toFixed(1);
    console.log(
      `${r.key.padEnd(50)} ${r.role.padEnd(7)} seeds ${r.seeds.join(",")}: ${pct(r.accuracy.mean)} ± ${pct(r.accuracy.sd)} [${pct(r.accuracy.min)}, ${pct(r.accuracy.max)}]  steps ${r.steps.join(",")} (${r.stopped.join(",")})`,
    );
  }
  console.log(`training time over all runs: ${(total / 3600).toFixed(2)} h`);
}

async function main(): Promise<void> {
  checkCommandLine(
    "table1",
    [
      "batch",
      "eval-every",
      "init",
      "keep",
      "length",
      "lr",
      "max-steps",
      "out",
      "phase",
      "save-every",
      "seed",
      "solved",
      "task",
      "threads",
      "time-limit",
      "tokens",
      "tol",
      "variant",
      "warmup",
      "weight-decay",
      "window",
      "work",
    ],
    ["resume"],
  );
  const out = arg("out", "datasets/checkpoints/table1");
  const work = arg("work", ".train/table1");
  const phase = arg("phase", "train");
  if (phase === "train") await train(out, work);
  else if (phase === "summary") summary(out);
  else throw new Error(`--phase must be train or summary (got ${phase})`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
