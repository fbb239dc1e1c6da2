/**
 * Induction heads and length extrapolation (Gu & Dao 2023, Table 2 / Table 11) with the paper's
 * recipe where this machine affords it: 2-layer models, vocabulary 16, trained at length 256 with
 * batches of 8 fresh examples; Mamba (d_model 64) with Adam, no weight decay, constant learning
 * rate 1e-3; the Transformer++ (RoPE, SwiGLU, RMSNorm) at the paper's attention width, d_model 128
 * with 8 heads, initialised by the width-aware "fan-in" rule, at its own learning rate; Mamba-2
 * (lesson 13) at Mamba's parameter count, with Mamba's recipe. The paper
 * trains 204,800 steps; a run here stops at `--max-steps` or `--time-limit` and resumes with
 * `--resume`: its record says how many steps it got. Then each model is scored at the final
 * position at lengths 2^6 … 2^20 (`lib/src/extrapolation/`: Mamba in recurrent mode, constant
 * memory, and Mamba-2 the same way; the Transformer++ through a KV cache held to a stated byte budget, lengths over it
 * recorded as null), on `--examples` seeded examples per length, with 95% Wilson intervals.
 *
 *   npm run train -- induction --phase train --model mamba|mamba2|transformer [--seed 0] [--length 256]
 *     [--batch 8] [--lr 0.001] [--optimizer adam|adamw] [--weight-decay 0] [--warmup 0]
 *     [--init fan-in|hf] [--max-steps 204800] [--eval-every 200] [--save-every 200]
 *     [--threads N] [--resume] [--time-limit SECONDS]
 *   npm run train -- induction --phase eval --run NAME [--lengths 64,128,...] [--examples 128]
 *     [--from 0 --to N] [--budget-bytes 9437184] [--prefill 4096] [--part FILE]
 *   npm run train -- induction --phase merge [--parts a.json,b.json,...]
 *     [--mamba-run NAME] [--transformer-run NAME] [--mamba2-run NAME]
 * Every phase takes [--out datasets/checkpoints/induction] [--work .train/induction].
 *
 * Train writes, for a run named `<model>-L<length>-b<batch>-lr<lr>-<optimizer>[-<init>]-s<seed>`:
 * - `OUT/runs/<name>.json`: settings, the curves (training loss and batch accuracy averaged over
 *   each evaluation interval; validation loss and accuracy at the training length every
 *   `--eval-every` steps), why it stopped, steps, tokens, seconds and every command that shaped
 *   it; rewritten whenever the run stops, so a run stopped by its time limit has a record too;
 * - `OUT/runs/<name>.log`: its log;
 * - `OUT/models/<name>/`: the model where the run stopped (config.json + model.safetensors in
 *   the HF layout: MambaForCausalLM, Mamba2ForCausalLM or LlamaForCausalLM), what
 *   `--phase eval --run <name>` scores;
 * - `WORK/<name>/`: the model, training state and progress after every `--save-every` steps
 *   (`--resume` continues from there; not committed).
 * Eval writes a part file of per-example hits (sharded by --from/--to for parallel processes),
 * rewritten after each length, so a process stopped at a deadline keeps the lengths it finished;
 * merge writes `OUT/extrapolation.json` (see datasets/README.md), leaving out a run's lengths that
 * not all of its shards reached. Deterministic: the same commands
 * give the same models on the same Node.js version (the "simd-threads" engine combines the
 * threads' shares in a fixed order).
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { Rng } from "../../dist/rng";
import { initMamba } from "../../dist/mamba/init";
import { loadMambaCheckpoint, saveMambaCheckpoint } from "../../dist/mamba/checkpoint";
import { mambaParamCount, mambaConfig } from "../../dist/mamba/config";
import { mambaLossAndGrads } from "../../dist/mamba/grads";
import type { MambaModel } from "../../dist/mamba/model";
import { initMamba2 } from "../../dist/mamba2/init";
import { loadMamba2Checkpoint, saveMamba2Checkpoint } from "../../dist/mamba2/checkpoint";
import { mamba2Config, mamba2ParamCount } from "../../dist/mamba2/config";
import { mamba2LossAndGrads } from "../../dist/mamba2/grads";
import type { Mamba2Model } from "../../dist/mamba2/model";
import { initTransformer, type TransformerInit } from "../../dist/transformer/init";
import {
  loadTransformerCheckpoint,
  saveTransformerCheckpoint,
} from "../../dist/transformer/checkpoint";
import { llamaConfig, transformerParamCount } from "../../dist/transformer/config";
import { transformerLossAndGrads } from "../../dist/transformer/grads";
import type { TransformerModel } from "../../dist/transformer/model";
import { inductionHeads } from "../../dist/tasks/induction";
import { wilsonInterval } from "../../dist/tasks/util";
import { trainMamba, trainMamba2, trainTransformer } from "../../dist/train/loop";
import { loadTrainingState, saveTrainingState } from "../../dist/train/state";
import { taskBatch } from "../../dist/train/tasks";
import { createTrainPool } from "../../dist/ops/simd/threads";
import { type LanguageModel, extrapolationSet, inductionCorrect } from "../../dist/extrapolation";
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

/** Mamba: the paper's 2 layers, d_model 64, vocabulary 16 (66,496 parameters). */
export const MAMBA_CONFIG = {
  vocab_size: 16,
  hidden_size: 64,
  num_hidden_layers: 2,
  state_size: 16,
};
/**
 * Mamba-2 at Mamba's parameter count (lesson 13): d_model 64, 2 layers, expand 2, 8 heads of 16,
 * one group of B and C, chunks of 64, tied head; state size 48, the multiple of 8 whose count
 * (66,224 parameters) is nearest Mamba's 66,496.
 */
export const MAMBA2_CONFIG = {
  vocab_size: 16,
  hidden_size: 64,
  num_hidden_layers: 2,
  expand: 2,
  head_dim: 16,
  num_heads: 8,
  n_groups: 1,
  state_size: 48,
  chunk_size: 64,
  tie_word_embeddings: true,
};
/**
 * Transformer++ at the paper's attention width: d_model 128, 8 heads of 16, RoPE. The paper's
 * attention models (137K parameters) are 131K of attention weights; a Transformer++ block also has
 * its SwiGLU MLP, kept narrow here (width 32: 24.6K parameters), 160,384 parameters in all.
 */
export const TRANSFORMER_CONFIG = {
  vocab_size: 16,
  hidden_size: 128,
  intermediate_size: 32,
  num_hidden_layers: 2,
  num_attention_heads: 8,
  max_position_embeddings: 256,
};
/** Lengths evaluated: 2^6 … 2^20 (the Transformer++ stops at its budget). */
export const DEFAULT_LENGTHS = Array.from({ length: 15 }, (_, k) => 2 ** (k + 6));
/**
 * The attention budget per sequence: 8 MiB of KV cache plus its score row (9 MiB). With this
 * model's 2 KiB of keys and values per token (2 layers × keys and values × 128 × 4 bytes) it holds
 * 2^12 tokens (8 MiB + 32 KiB), 16 times the training length; 2^13 would need 16 MiB. Mamba's
 * state is 20 KiB at any length. The budget also bounds the time: a sequence of l tokens costs
 * O(l²), and 128 sequences of 2^12 tokens already take longer than those of all shorter lengths.
 */
export const ATTENTION_BUDGET_BYTES = 9 * 2 ** 20;
/** Seed of the test sets (per length: TEST_SEED + length) and of the validation set. */
export const TEST_SEED = 1_000_003;
export const VALIDATION_SEED = 2_000_003;
export const VALIDATION_COUNT = 256;

type Kind = "mamba" | "mamba2" | "transformer";
const KINDS: readonly Kind[] = ["mamba", "mamba2", "transformer"];
const SCRIPT = "induction";

function newModel(kind: Kind, seed: number, init: TransformerInit): LanguageModel {
  if (kind === "mamba") return initMamba(MAMBA_CONFIG, new Rng(seed));
  if (kind === "mamba2") return initMamba2(MAMBA2_CONFIG, new Rng(seed));
  return initTransformer(TRANSFORMER_CONFIG, new Rng(seed), { init });
}

function loadModel(kind: Kind, dir: string): LanguageModel {
  if (kind === "mamba") return loadMambaCheckpoint(dir);
  if (kind === "mamba2") return loadMamba2Checkpoint(dir);
  return loadTransformerCheckpoint(dir);
}

function saveModel(kind: Kind, model: LanguageModel, dir: string): void {
  if (kind === "mamba") saveMambaCheckpoint(model as MambaModel, dir);
  else if (kind === "mamba2") saveMamba2Checkpoint(model as Mamba2Model, dir);
  else saveTransformerCheckpoint(model as TransformerModel, dir);
}

function paramCount(kind: Kind): number {
  if (kind === "mamba") return mambaParamCount(mambaConfig(MAMBA_CONFIG));
  if (kind === "mamba2") return mamba2ParamCount(mamba2Config(MAMBA2_CONFIG));
  return transformerParamCount(llamaConfig(TRANSFORMER_CONFIG));
}

/** The model of a run, from its name (`<model>-L…`). */
function kindOfRun(run: string): Kind {
  const kind = KINDS.find((k) => run.startsWith(`${k}-`));
  if (kind === undefined)
    throw new Error(`--run must name a run of ${KINDS.join(", ")} (<model>-L…) (got ${run})`);
  return kind;
}

async function train(out: string, work: string): Promise<void> {
  const kind = arg("model", "mamba") as Kind;
  if (!KINDS.includes(kind))
    throw new Error(`--model must be one of ${KINDS.join(", ")} (got ${kind})`);
  const length = Number(arg("length", "256"));
  const batchSize = Number(arg("batch", "8"));
  const lr = Number(arg("lr", "0.001"));
  const optimizer = arg("optimizer", "adam");
  if (optimizer !== "adam" && optimizer !== "adamw")
    throw new Error(`--optimizer must be adam or adamw (got ${optimizer})`);
  const weightDecay = Number(arg("weight-decay", optimizer === "adam" ? "0" : "0.1"));
  if (optimizer === "adam" && weightDecay !== 0)
    throw new Error(`--optimizer adam has no weight decay (got --weight-decay ${weightDecay})`);
  const warmup = Number(arg("warmup", "0"));
  const init = arg("init", "fan-in") as TransformerInit;
  if (init !== "fan-in" && init !== "hf")
    throw new Error(`--init must be fan-in or hf (got ${init})`);
  const seed = Number(arg("seed", "0"));
  const maxSteps = Number(arg("max-steps", "204800"));
  const evalEvery = Number(arg("eval-every", "200"));
  const saveEvery = Number(arg("save-every", "200"));
  const timeLimit = Number(arg("time-limit", "0"));
  const threads = arg("threads", "");
  if (saveEvery % evalEvery !== 0)
    throw new Error(`--save-every must be a multiple of --eval-every (${saveEvery}, ${evalEvery})`);
  const taskOptions = { length, vocabSize: 16 };
  const recipe = `L${length}-b${batchSize}-lr${lr}-${optimizer}${kind === "transformer" ? `-${init}` : ""}`;
  const name = `${kind}-${recipe}-s${seed}`;
  const runDir = path.join(work, name);
  const log = logger(path.join(out, "runs", `${name}.log`));
  const resume = flag("resume") && existsSync(path.join(runDir, "training_state.json"));
  const model = resume ? loadModel(kind, runDir) : newModel(kind, seed, init);
  const state = resume ? loadTrainingState(runDir, model) : undefined;
  const progress: Progress = resume
    ? (JSON.parse(readFileSync(path.join(runDir, "progress.json"), "utf8")) as Progress)
    : { evaluations: [], train: [], seconds: 0, commands: [] };
  progress.commands.push(runCommand(SCRIPT));
  // Constant after `warmup` steps (the paper: constant); the schedule spans the cap and
  // minLr = peakLr keeps it constant whatever step the run stops at.
  const schedule = { peakLr: lr, warmupSteps: warmup, totalSteps: maxSteps, minLr: lr };
  // Adam: PyTorch's defaults (β 0.9/0.999, ε 1e-8), no weight decay; AdamW: the LM recipe.
  const adamw =
    optimizer === "adam"
      ? { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 }
      : { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay };
  const validation = taskBatch(extrapolationSet(VALIDATION_SEED, length, VALIDATION_COUNT, 16));
  const pool = createTrainPool(threads === "" ? {} : { threads: Number(threads) });
  const lossOf = (tokens: typeof validation.tokens, targets: typeof validation.targets) => {
    const o = { targets, engine: "simd-threads" as const, pool };
    if (kind === "mamba") return mambaLossAndGrads(model as MambaModel, tokens, o);
    if (kind === "mamba2") return mamba2LossAndGrads(model as Mamba2Model, tokens, o);
    return transformerLossAndGrads(model as TransformerModel, tokens, o);
  };
  const evaluate = (step: number): Evaluation => {
    const r = lossOf(validation.tokens, validation.targets);
    return { step, loss: r.loss, accuracy: r.correct / r.count };
  };
  log(
    `${resume ? `resuming at step ${state!.step}` : "training"} ${name}: induction heads, length ${length}, vocab 16; ${kind} (${paramCount(kind)} parameters${kind === "transformer" ? `, init ${init}` : ""}); batch ${batchSize}, ${optimizer} (β ${adamw.beta1}/${adamw.beta2}, weight decay ${adamw.weightDecay}), lr ${lr} constant${warmup > 0 ? ` after ${warmup} warmup steps` : ""}, clip 1; engine simd-threads (${pool.threads} threads); up to ${maxSteps} steps`,
  );
  log(`command: ${runCommand(SCRIPT)}`);
  const evalLog = new EvaluationLog({ name, progress, evaluate, log, evalEvery, decimals: 1 });
  const started = evalLog.start(resume);
  let current = state;
  let stopped: "cap" | "time limit" | "interrupted" = "cap";
  for (;;) {
    const done = current?.step ?? 0;
    if (done >= maxSteps) break;
    if (timeLimit > 0 && (Date.now() - started) / 1000 >= timeLimit) {
      stopped = "time limit";
      break;
    }
    const t0 = Date.now();
    const opts = {
      batch: (rng: Rng) => taskBatch(inductionHeads(rng, { ...taskOptions, count: batchSize })),
      schedule,
      adamw,
      clip: 1,
      seed: 1000 + seed,
      engine: "simd-threads" as const,
      pool,
      display: false,
      maxSteps: Math.min(saveEvery, maxSteps - done),
      ...(timeLimit > 0
        ? { timeLimitSeconds: Math.max(1, timeLimit - (Date.now() - started) / 1000) }
        : {}),
      ...(current ? { state: current } : {}),
      onStep: evalLog.onStep,
    };
    const result =
      kind === "mamba"
        ? await trainMamba(model as MambaModel, opts)
        : kind === "mamba2"
          ? await trainMamba2(model as Mamba2Model, opts)
          : await trainTransformer(model as TransformerModel, opts);
    current = result.state;
    progress.seconds += (Date.now() - t0) / 1000;
    saveModel(kind, model, runDir);
    saveTrainingState(current, model, runDir);
    progress.partial = evalLog.partial;
    writeFileSync(path.join(runDir, "progress.json"), JSON.stringify(progress) + "\n");
    if (result.stopped === "interrupted") {
      stopped = "interrupted";
      break;
    }
  }
  pool.close();
  const steps = current?.step ?? 0;
  saveModel(kind, model, path.join(out, "models", name));
  const last = progress.evaluations[progress.evaluations.length - 1];
  log(
    `${name}: ${stopped} at step ${steps} (${((steps * batchSize * length) / 1e6).toFixed(1)}M tokens, ${progress.seconds.toFixed(0)} s training); validation accuracy ${(last.accuracy * 100).toFixed(1)}% at step ${last.step}${stopped === "cap" ? "" : "; continue with --resume"}`,
  );
  const record = {
    name,
    model: kind,
    task: "induction-heads",
    task_options: taskOptions,
    seed,
    parameters: paramCount(kind),
    config: { mamba: MAMBA_CONFIG, mamba2: MAMBA2_CONFIG, transformer: TRANSFORMER_CONFIG }[kind],
    ...(kind === "transformer" ? { init } : {}),
    batch_size: batchSize,
    optimizer,
    schedule,
    adamw,
    clip: 1,
    engine: "simd-threads",
    threads: pool.threads,
    batch_rng_seed: 1000 + seed,
    max_steps: maxSteps,
    stopped,
    steps,
    tokens: steps * batchSize * length,
    seconds: progress.seconds,
    tokens_per_second: evalLog.tokensPerSecond,
    validation: `taskBatch(extrapolationSet(${VALIDATION_SEED}, ${length}, ${VALIDATION_COUNT}, 16))`,
    validation_accuracy: last.accuracy,
    eval_every: evalEvery,
    evaluations: progress.evaluations,
    train: progress.train,
    node: process.version,
    model_dir: `models/${name}`,
    commands: progress.commands,
  };
  writeFileSync(path.join(out, "runs", `${name}.json`), JSON.stringify(record, null, 1) + "\n");
}

/** A part file: per-example hits of one run at each length, for examples from … to − 1. */
interface Part {
  run: string;
  model: Kind;
  from: number;
  to: number;
  examples: number;
  budget: number;
  prefill: number;
  results: Record<string, { hits: string; seconds: number } | null>;
}

function evaluate(out: string): void {
  const run = arg("run", "");
  if (run === "") throw new Error("--run NAME is required (a folder of OUT/models)");
  const dir = path.join(out, "models", run);
  const kind = kindOfRun(run);
  const lengths = arg("lengths", DEFAULT_LENGTHS.join(",")).split(",").map(Number);
  const examples = Number(arg("examples", "128"));
  const from = Number(arg("from", "0"));
  const to = Number(arg("to", String(examples)));
  const budget = Number(arg("budget-bytes", String(ATTENTION_BUDGET_BYTES)));
  const prefill = Number(arg("prefill", "4096"));
  const file = arg("part", path.join(out, "parts", `${run}-${from}-${to}.json`));
  const model = loadModel(kind, dir);
  const part: Part = { run, model: kind, from, to, examples, budget, prefill, results: {} };
  for (const l of lengths) {
    const t0 = Date.now();
    const set = extrapolationSet(TEST_SEED, l, examples, 16);
    const r = inductionCorrect(model, set, {
      batchSize: kind === "transformer" ? 1 : Math.min(32, to - from),
      ...(kind === "transformer" ? { budgetBytes: budget } : { prefill }),
      from,
      to,
    });
    const seconds = (Date.now() - t0) / 1000;
    part.results[String(l)] = r === null ? null : { hits: Array.from(r.hits).join(""), seconds };
    console.log(
      `${run} length ${l} examples ${from}..${to - 1}: ${r === null ? "over budget" : `${r.correct}/${r.count}`} (${seconds.toFixed(1)} s)`,
    );
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(part) + "\n");
  }
}

function merge(out: string): void {
  const partsDir = path.join(out, "parts");
  const listed = arg("parts", "")
    .split(",")
    .filter((p) => p !== "");
  const files =
    listed.length > 0
      ? listed
      : readdirSync(partsDir)
          .filter((f) => f.endsWith(".json"))
          .sort()
          .map((f) => path.join(partsDir, f));
  const parts = files.map((f) => JSON.parse(readFileSync(f, "utf8")) as Part);
  if (parts.length === 0) throw new Error(`no part files (in ${partsDir} or --parts)`);
  const examples = parts[0].examples;
  const budget = parts.find((p) => p.model === "transformer")?.budget ?? ATTENTION_BUDGET_BYTES;
  // Per run and length: the hit of every example, assembled from the parts' slices.
  const hits = new Map<string, Map<number, (string | null)[] | null>>();
  const lengths = new Set<number>();
  for (const p of parts) {
    if (p.examples !== examples)
      throw new Error(`${p.run}: a part of ${p.examples} examples among parts of ${examples}`);
    const byLength = hits.get(p.run) ?? new Map<number, (string | null)[] | null>();
    hits.set(p.run, byLength);
    for (const [ls, r] of Object.entries(p.results)) {
      const l = Number(ls);
      lengths.add(l);
      if (r === null) {
        byLength.set(l, null);
        continue;
      }
      const slots = byLength.get(l) ?? Array<string | null>(examples).fill(null);
      if (slots === null) throw new Error(`${p.run} at ${l}: both scored and over budget`);
      for (let i = 0; i < r.hits.length; i++) slots[p.from + i] = r.hits[i];
      byLength.set(l, slots);
    }
  }
  const sorted = [...lengths].sort((a, b) => a - b);
  const runs: Record<string, unknown> = {};
  const accuracyOf: Record<string, Record<string, number | null>> = {};
  for (const [run, byLength] of [...hits].sort()) {
    const accuracy: Record<
      string,
      { correct: number; count: number; low: number; high: number } | null
    > = {};
    const runHits: Record<string, string | null> = {};
    for (const l of sorted) {
      const slots = byLength.get(l);
      if (slots === undefined) continue; // not evaluated at this length
      if (slots === null) {
        accuracy[l] = null;
        runHits[l] = null;
        continue;
      }
      const missing = slots.filter((s) => s === null).length;
      if (missing > 0) {
        // A shard stopped by its deadline before this length: not evaluated.
        console.log(`${run} at length ${l}: ${missing} of ${examples} examples missing; left out`);
        continue;
      }
      const h = slots.join("");
      const correct = [...h].filter((c) => c === "1").length;
      accuracy[l] = { correct, count: examples, ...wilsonInterval(correct, examples) };
      runHits[l] = h;
    }
    const record = JSON.parse(readFileSync(path.join(out, "runs", `${run}.json`), "utf8")) as {
      model: Kind;
      seed: number;
      steps: number;
      schedule: { peakLr: number };
    };
    runs[run] = {
      model: record.model,
      seed: record.seed,
      lr: record.schedule.peakLr,
      steps: record.steps,
      record: `runs/${run}.json`,
      accuracy,
      hits: runHits,
    };
    accuracyOf[run] = Object.fromEntries(
      Object.entries(accuracy).map(([l, a]) => [l, a === null ? null : a.correct / a.count]),
    );
  }
  // The run each model's headline numbers come from (lesson 12 reads these): given, else seed 0.
  const main = (kind: Kind): string => {
    const chosen = arg(`${kind}-run`, "");
    if (chosen !== "") return chosen;
    const names = Object.keys(runs).filter((r) => r.startsWith(`${kind}-`) && r.endsWith("-s0"));
    if (names.length === 0)
      throw new Error(`no seed-0 ${kind} run evaluated; name one with --${kind}-run`);
    return names[0];
  };
  const full = (run: string) =>
    Object.fromEntries(sorted.map((l) => [String(l), accuracyOf[run]?.[l] ?? null]));
  // Distance from the first trigger to the query (l − 1 − p) of every test example.
  const distances = Object.fromEntries(
    sorted.map((l) => {
      const set = extrapolationSet(TEST_SEED, l, examples, 16);
      return [String(l), Array.from(set.triggerPositions, (p) => l - 1 - p)];
    }),
  );
  const record = JSON.parse(
    readFileSync(path.join(out, "runs", `${main("mamba")}.json`), "utf8"),
  ) as {
    task_options: { length: number };
  };
  const json = {
    train_length: record.task_options.length,
    lengths: sorted,
    examples_per_length: examples,
    attention_budget_bytes: budget,
    test_set: `extrapolationSet(${TEST_SEED}, length, ${examples}, 16)`,
    mamba_run: main("mamba"),
    transformer_run: main("transformer"),
    mamba: full(main("mamba")),
    transformer: full(main("transformer")),
    // Mamba-2 (lesson 13) once one of its runs is evaluated.
    ...(arg("mamba2-run", "") !== "" || Object.keys(runs).some((r) => r.startsWith("mamba2-"))
      ? { mamba2_run: main("mamba2"), mamba2: full(main("mamba2")) }
      : {}),
    runs,
    distances,
    command: runCommand(SCRIPT),
  };
  writeFileSync(path.join(out, "extrapolation.json"), JSON.stringify(json) + "\n");
  for (const [run, r] of Object.entries(runs)) {
    const acc = (r as { accuracy: Record<string, { correct: number } | null> }).accuracy;
    console.log(
      `${run.padEnd(52)} ${sorted.map((l) => (acc[l] === undefined ? "   -" : acc[l] === null ? "  --" : String(acc[l]!.correct).padStart(4))).join(" ")}`,
    );
  }
  console.log(`(correct of ${examples} at lengths ${sorted.join(", ")}; -- over budget)`);
}

async function main(): Promise<void> {
  checkCommandLine(
    "induction",
    [
      "batch",
      "budget-bytes",
      "eval-every",
      "examples",
      "from",
      "init",
      "length",
      "lengths",
      "lr",
      "mamba-run",
      "mamba2-run",
      "max-steps",
      "model",
      "optimizer",
      "out",
      "part",
      "parts",
      "phase",
      "prefill",
      "run",
      "save-every",
      "seed",
      "threads",
      "time-limit",
      "to",
      "transformer-run",
      "warmup",
      "weight-decay",
      "work",
    ],
    ["resume"],
  );
  const out = arg("out", "datasets/checkpoints/induction");
  const work = arg("work", ".train/induction");
  const phase = arg("phase", "train");
  if (phase === "train") await train(out, work);
  else if (phase === "eval") evaluate(out);
  else if (phase === "merge") merge(out);
  else throw new Error(`--phase must be train, eval or merge (got ${phase})`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
