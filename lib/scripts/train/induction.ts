/**
 * Induction heads and length extrapolation (Gu & Dao 2023, Table 2 / Table 11) in miniature: a
 * 2-layer Mamba and a 2-layer Transformer++ (RoPE) of similar size (d_model 64, vocabulary 16)
 * are trained on induction heads (lesson 05's task) at one short length, then scored at the
 * final position at lengths 2^k far beyond it (lib's `extrapolation/`: Mamba in recurrent mode,
 * constant memory; the Transformer++ with a KV cache held to a stated byte budget, lengths over
 * it recorded as null).
 *
 * Phases (default "all": train both, evaluate both, merge):
 *
 *   npm run train -- induction [--phase all|train|eval|merge] [--out datasets/checkpoints/induction]
 *     train: --model mamba|transformer [--length 64] [--steps 800] [--batch 16] [--lr 0.003]
 *            [--seed 0] [--weight-decay 0.1] [--save-every 50] [--resume]
 *            [--stop-after STEPS] [--time-limit SECONDS]
 *     eval:  --model mamba|transformer [--lengths 64,128,...] [--examples 32] [--from 0 --to N]
 *            [--budget-bytes 33554432] [--part FILE]   (a slice of the examples, for sharding)
 *     merge: [--parts a.json,b.json,...]  -> OUT/extrapolation.json
 *
 * Training writes OUT/<model>/ (config.json + model.safetensors in the HF layout, the training
 * state, induction.json with settings, command and held-out accuracy) and appends to
 * OUT/train-<model>.log. Every batch is drawn from the seeded stream (seed + 1), the model from
 * `seed`: the same command gives the same model.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { Rng } from "../../dist/rng";
import { initMamba } from "../../dist/mamba/init";
import { loadMambaCheckpoint, saveMambaCheckpoint } from "../../dist/mamba/checkpoint";
import { mambaParamCount } from "../../dist/mamba/config";
import { initTransformer } from "../../dist/transformer/init";
import {
  loadTransformerCheckpoint,
  saveTransformerCheckpoint,
} from "../../dist/transformer/checkpoint";
import { llamaConfig, transformerParamCount } from "../../dist/transformer/config";
import { inductionHeads } from "../../dist/tasks/induction";
import {
  type StepRecord,
  type TrainResult,
  trainMamba,
  trainTransformer,
} from "../../dist/train/loop";
import { loadTrainingState, saveTrainingState } from "../../dist/train/state";
import { taskBatch } from "../../dist/train/tasks";
import { type LanguageModel, extrapolationSet, inductionCorrect } from "../../dist/extrapolation";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const flag = (name: string): boolean => process.argv.includes(`--${name}`);

/** The models: the paper's 2 layers, d_model 64, vocabulary 16. */
export const MAMBA_CONFIG = {
  vocab_size: 16,
  hidden_size: 64,
  num_hidden_layers: 2,
  state_size: 16,
};
/** Transformer++: 4 heads of 16, SwiGLU width 64 (68k parameters, Mamba's 66k). */
export const TRANSFORMER_CONFIG = {
  vocab_size: 16,
  hidden_size: 64,
  intermediate_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  max_position_embeddings: 64,
};
/** Lengths evaluated: 2^6 … 2^16 (Mamba); the Transformer++ stops at its budget. */
export const DEFAULT_LENGTHS = Array.from({ length: 11 }, (_, k) => 2 ** (k + 6));
/**
 * The attention budget: KV cache + one score row of one sequence, 4 MiB. With this model's
 * 1 KiB of keys and values per token that is 2^11 tokens; 2^12 needs 4 MiB + 32 KiB.
 */
export const ATTENTION_BUDGET_BYTES = 2 ** 22;
/** Seed of the held-out sets (per length: TEST_SEED + length). */
const TEST_SEED = 1_000_003;

type Kind = "mamba" | "transformer";

function command(): string {
  return `npm run train -- induction ${process.argv.slice(2).join(" ")}`.trim();
}

function logger(file: string): (line: string) => void {
  mkdirSync(path.dirname(file), { recursive: true });
  return (line: string) => {
    console.log(line);
    appendFileSync(file, line + "\n");
  };
}

function newModel(kind: Kind, seed: number): LanguageModel {
  return kind === "mamba"
    ? initMamba(MAMBA_CONFIG, new Rng(seed))
    : initTransformer(TRANSFORMER_CONFIG, new Rng(seed));
}

function loadModel(kind: Kind, dir: string): LanguageModel {
  return kind === "mamba" ? loadMambaCheckpoint(dir) : loadTransformerCheckpoint(dir);
}

function saveModel(kind: Kind, model: LanguageModel, dir: string): void {
  if (kind === "mamba")
    saveMambaCheckpoint(model as Parameters<typeof saveMambaCheckpoint>[0], dir);
  else saveTransformerCheckpoint(model as Parameters<typeof saveTransformerCheckpoint>[0], dir);
}

function paramCount(kind: Kind, model: LanguageModel): number {
  return kind === "mamba"
    ? mambaParamCount((model as Parameters<typeof saveMambaCheckpoint>[0]).config)
    : transformerParamCount(llamaConfig(TRANSFORMER_CONFIG));
}

function heldOutAccuracy(model: LanguageModel, length: number, count: number): number {
  const set = extrapolationSet(TEST_SEED, length, count, 16);
  const r = inductionCorrect(model, set, { batchSize: 32 })!;
  return r.correct / r.count;
}

async function train(out: string): Promise<void> {
  const kind = arg("model", "mamba") as Kind;
  if (kind !== "mamba" && kind !== "transformer")
    throw new Error(`--model must be mamba or transformer (got ${kind})`);
  const length = Number(arg("length", "64"));
  const steps = Number(arg("steps", "800"));
  const batchSize = Number(arg("batch", "16"));
  const peakLr = Number(arg("lr", "0.003"));
  const seed = Number(arg("seed", "0"));
  const saveEvery = Number(arg("save-every", "50"));
  const timeLimit = Number(arg("time-limit", "0"));
  // Stop once this many steps are done in all (the schedule still spans --steps).
  const stopAfter = Number(arg("stop-after", String(steps)));
  const dir = path.join(out, kind);
  const log = logger(path.join(out, `train-${kind}.log`));
  const resume = flag("resume") && existsSync(path.join(dir, "training_state.json"));
  const model = resume ? loadModel(kind, dir) : newModel(kind, seed);
  const state = resume ? loadTrainingState(dir, model) : undefined;
  const schedule = {
    peakLr,
    warmupSteps: Math.min(50, steps),
    totalSteps: steps,
    minLr: peakLr / 10,
  };
  const adamw = { beta1: 0.9, beta2: 0.95, weightDecay: Number(arg("weight-decay", "0.1")) };
  log(
    `${resume ? "resuming" : "training"} ${kind} (${paramCount(kind, model)} parameters) on induction heads: length ${length}, vocab 16, batch ${batchSize}, ${steps} steps, lr ${peakLr}, seed ${seed}${resume ? ` from step ${state!.step}` : ""}`,
  );
  log(`command: ${command()}`);
  const started = Date.now();
  let window: number[] = [];
  let result: TrainResult | null = null;
  const common = {
    batch: (rng: Rng) =>
      taskBatch(inductionHeads(rng, { count: batchSize, length, vocabSize: 16 })),
    schedule,
    adamw,
    clip: 1,
    seed: seed + 1,
    display: false,
    ...(state ? { state } : {}),
    ...(timeLimit > 0 ? { timeLimitSeconds: timeLimit } : {}),
    onStep: (r: StepRecord) => {
      window.push(r.accuracy);
      if (r.step % 10 === 0 || r.step === 1) {
        const acc = window.reduce((a, c) => a + c, 0) / window.length;
        window = [];
        log(
          `${kind} step ${r.step}: loss ${r.loss.toFixed(4)} batch acc (mean since last line) ${(acc * 100).toFixed(1)}% lr ${r.lr.toExponential(2)} |g| ${r.gradNorm.toFixed(3)} ${Math.round(r.tokensPerSecond)} tok/s ${((Date.now() - started) / 1000).toFixed(0)} s`,
        );
      }
    },
  };
  // Train in slices of saveEvery steps, saving the model and training state after each, so that a
  // run stopped at any point resumes from its last save with --resume.
  let current = state;
  for (;;) {
    const done = current?.step ?? 0;
    if (done >= stopAfter) break;
    const opts = {
      ...common,
      maxSteps: Math.min(saveEvery, stopAfter - done),
      ...(current ? { state: current } : {}),
    };
    result =
      kind === "mamba"
        ? await trainMamba(model as Parameters<typeof trainMamba>[0], opts)
        : await trainTransformer(model as Parameters<typeof trainTransformer>[0], opts);
    current = result.state;
    saveModel(kind, model, dir);
    saveTrainingState(current, model, dir);
    if (result.stopped !== "maxSteps") break;
    if (timeLimit > 0 && (Date.now() - started) / 1000 >= timeLimit) break;
  }
  const seconds = (Date.now() - started) / 1000;
  const accuracy = heldOutAccuracy(model, length, 256);
  log(
    `${kind}: ${result!.stopped} at step ${current!.step}; held-out accuracy at length ${length}: ${(accuracy * 100).toFixed(1)}% (256 examples), ${seconds.toFixed(0)} s this run`,
  );
  const previous = resume
    ? (JSON.parse(readFileSync(path.join(dir, "induction.json"), "utf8")) as {
        seconds?: number;
        commands?: string[];
      })
    : {};
  // Every command that shaped the model, in order (a resumed run may change --length or --steps).
  const thisCommand = command().replace(/ --time-limit \S+/g, "");
  const commands = [...(previous.commands ?? []), thisCommand];
  writeFileSync(
    path.join(dir, "induction.json"),
    JSON.stringify(
      {
        model: kind,
        task: "induction-heads",
        task_options: { length, vocabSize: 16 },
        parameters: paramCount(kind, model),
        steps_done: current!.step,
        steps: steps,
        batch_size: batchSize,
        schedule,
        adamw,
        clip: 1,
        seed,
        held_out: `extrapolationSet(${TEST_SEED}, ${length}, 256, 16)`,
        held_out_accuracy: accuracy,
        seconds: (previous.seconds ?? 0) + seconds,
        commands,
      },
      null,
      2,
    ) + "\n",
  );
}

function evaluate(out: string): void {
  const kind = arg("model", "mamba") as Kind;
  const lengths = arg("lengths", DEFAULT_LENGTHS.join(",")).split(",").map(Number);
  const examples = Number(arg("examples", "32"));
  const from = Number(arg("from", "0"));
  const to = Number(arg("to", String(examples)));
  const budget = Number(arg("budget-bytes", String(ATTENTION_BUDGET_BYTES)));
  const part = arg("part", path.join(out, `part-${kind}-${from}-${to}.json`));
  const model = loadModel(kind, path.join(out, kind));
  const results: Record<string, { correct: number; count: number; seconds: number } | null> = {};
  for (const l of lengths) {
    const t0 = Date.now();
    const set = extrapolationSet(TEST_SEED, l, examples, 16);
    const r = inductionCorrect(model, set, {
      batchSize: kind === "mamba" ? 8 : 1,
      budgetBytes: kind === "transformer" ? budget : undefined,
      from,
      to,
    });
    const seconds = (Date.now() - t0) / 1000;
    results[String(l)] = r === null ? null : { ...r, seconds };
    console.log(
      `${kind} length ${l} examples ${from}..${to - 1}: ${r === null ? "over budget" : `${r.correct}/${r.count}`} (${seconds.toFixed(1)} s)`,
    );
    mkdirSync(path.dirname(part), { recursive: true });
    writeFileSync(
      part,
      JSON.stringify({ model: kind, from, to, examples, budget, results }, null, 2) + "\n",
    );
  }
}

function merge(out: string): void {
  const parts = arg("parts", "")
    .split(",")
    .filter((p) => p !== "");
  const trainLength = Number(arg("length", "64"));
  type Part = {
    model: Kind;
    examples: number;
    budget: number;
    results: Record<string, { correct: number; count: number } | null>;
  };
  const tallies: Record<Kind, Record<string, { correct: number; count: number } | null>> = {
    mamba: {},
    transformer: {},
  };
  let examples = 0;
  let budget = ATTENTION_BUDGET_BYTES;
  const lengths = new Set<number>();
  for (const file of parts) {
    const p = JSON.parse(readFileSync(file, "utf8")) as Part;
    examples = p.examples;
    if (p.model === "transformer") budget = p.budget;
    for (const [l, r] of Object.entries(p.results)) {
      lengths.add(Number(l));
      const t = tallies[p.model];
      if (r === null) t[l] = null;
      else if (t[l] !== null) {
        t[l] = { correct: (t[l]?.correct ?? 0) + r.correct, count: (t[l]?.count ?? 0) + r.count };
      }
    }
  }
  const sorted = [...lengths].sort((a, b) => a - b);
  const accuracy = (k: Kind) =>
    Object.fromEntries(
      sorted.map((l) => {
        const t = tallies[k][String(l)];
        if (t === undefined) return [String(l), null];
        if (t !== null && t.count !== examples)
          throw new Error(`${k} at length ${l}: ${t.count} examples merged, expected ${examples}`);
        return [String(l), t === null ? null : t.correct / t.count];
      }),
    );
  const json = {
    train_length: trainLength,
    lengths: sorted,
    mamba: accuracy("mamba"),
    transformer: accuracy("transformer"),
    examples_per_length: examples,
    attention_budget_bytes: budget,
    command: arg("record-command", command()),
  };
  writeFileSync(path.join(out, "extrapolation.json"), JSON.stringify(json, null, 2) + "\n");
  console.log(JSON.stringify(json, null, 2));
}

async function main(): Promise<void> {
  const out = arg("out", "datasets/checkpoints/induction");
  const phase = arg("phase", "all");
  if (phase === "train") await train(out);
  else if (phase === "eval") evaluate(out);
  else if (phase === "merge") merge(out);
  else if (phase === "all") {
    // One process, in order: what the device run does in parallel.
    const original = command();
    const base = process.argv.slice(0, 2);
    const rest = process.argv.slice(2).filter((a) => a !== "all" && a !== "--phase");
    const parts: string[] = [];
    for (const kind of ["mamba", "transformer"] as const) {
      process.argv = [...base, ...rest, "--model", kind];
      await train(out);
    }
    for (const kind of ["mamba", "transformer"] as const) {
      const part = path.join(out, `part-${kind}.json`);
      process.argv = [...base, ...rest, "--model", kind, "--part", part];
      evaluate(out);
      parts.push(part);
    }
    process.argv = [...base, ...rest, "--parts", parts.join(","), "--record-command", original];
    merge(out);
  } else throw new Error(`--phase must be all, train, eval or merge (got ${phase})`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
