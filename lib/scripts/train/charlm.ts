/**
 * Lesson 12's character-level language models on Jane Austen's *Persuasion*
 * (datasets/austen-persuasion.txt): a Mamba and a Transformer++ of about the same parameter count
 * (d_model 64, 2 layers; the Transformer's MLP width chosen to match Mamba's count), and lesson
 * 13's Mamba-2 at the same count (d_model 64, 2 layers, expand 2, heads of 16, one group of B and
 * C; the state size N, a multiple of 8 up to 64, chosen to match), trained for the same number of
 * tokens with the same schedule and data order, one run per learning rate and seed (lesson 12
 * sweeps them).
 *
 * Data (lib/src/charlm): the vocabulary is the text's 75 distinct characters; the last 10% of the
 * text is validation (never seen in training); training batches are windows of context + 1
 * characters at random starts in the first 90%. Validation bits per character is the mean
 * cross-entropy / ln 2 over every character of the validation part (consecutive windows of the
 * context length); the curve records it, over every validation character, every `eval-every`
 * steps with the tokens seen and the CPU seconds spent training so far (evaluation excluded).
 *
 * The Transformer++ starts from `initTransformer`'s `init` rule (`--init`): "fan-in" (default
 * here: upstream Mamba's rule, the one `initMamba` applies to Mamba, scaled to each matrix's width)
 * or "hf" (transformers' N(0, 0.02) for every matrix, six times below 1/√d at d = 64).
 *
 * Writes `<out>/<name>/` (config.json + model.safetensors, HF `MambaForCausalLM`,
 * `LlamaForCausalLM` or `Mamba2ForCausalLM`; name defaults to the model) and `<out>/<name>/charlm.json` (settings,
 * command, the vocabulary, the curves, validation bits/char, CPU and wall seconds, a sample). One
 * model per process, single-threaded by default (engine "simd"), so that runs go side by side, one
 * per core, and their CPU seconds compare:
 *
 *   npm run train -- charlm --model mamba|transformer|mamba2 [--out datasets/checkpoints/charlm]
 *     [--name <model>] [--steps 500] [--batch 8] [--context 128] [--lr 0.003] [--warmup 30]
 *     [--seed 0] [--eval-every 50] [--engine simd|simd-threads|typescript] [--init fan-in|hf]
 *
 * A run whose loss or gradients stop being finite (too large a learning rate) still writes its
 * record, with `diverged_at_step`, and no checkpoint.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import * as path from "node:path";
import { Rng } from "../../dist/rng";
import { datasetsDir, loadDatasetText } from "../../dist/datasets/index";
import {
  charVocabulary,
  decodeChars,
  encodeChars,
  evaluateBitsPerChar,
  randomWindows,
  splitTrainValidation,
  validationWindows,
} from "../../dist/charlm/index";
import { mambaConfig, mambaParamCount } from "../../dist/mamba/config";
import { initMamba } from "../../dist/mamba/init";
import { mambaForward } from "../../dist/mamba/forward";
import { mambaGenerate } from "../../dist/mamba/generate";
import { saveMambaCheckpoint } from "../../dist/mamba/checkpoint";
import { llamaConfig, transformerParamCount } from "../../dist/transformer/config";
import { initTransformer } from "../../dist/transformer/init";
import { transformerForward } from "../../dist/transformer/forward";
import { transformerGenerate } from "../../dist/transformer/generate";
import { saveTransformerCheckpoint } from "../../dist/transformer/checkpoint";
import { mamba2Config, mamba2ParamCount } from "../../dist/mamba2/config";
import { initMamba2 } from "../../dist/mamba2/init";
import { mamba2Forward } from "../../dist/mamba2/forward";
import { mamba2Generate } from "../../dist/mamba2/generate";
import { saveMamba2Checkpoint } from "../../dist/mamba2/checkpoint";
import { trainMamba, trainMamba2, trainTransformer } from "../../dist/train/loop";
import type { Tensor } from "../../dist/tensor";
import { arg } from "../train-common";

const D_MODEL = 64;
const LAYERS = 2;
const HEADS = 4;
const PROMPT = "Anne";
const SAMPLE_TEMPERATURE = 0.8;
const SAMPLE_LENGTH = 300;

/** The Transformer++ MLP width (a multiple of 8) whose parameter count is closest to `target`. */
function matchedIntermediate(vocab: number, target: number): number {
  let best = 8;
  let bestGap = Infinity;
  for (let inter = 8; inter <= 16 * D_MODEL; inter += 8) {
    const gap = Math.abs(transformerParamCount(transformerConfig(vocab, inter)) - target);
    if (gap < bestGap) [best, bestGap] = [inter, gap];
  }
  return best;
}

function transformerConfig(vocab: number, intermediate: number) {
  return llamaConfig({
    vocab_size: vocab,
    hidden_size: D_MODEL,
    intermediate_size: intermediate,
    num_hidden_layers: LAYERS,
    num_attention_heads: HEADS,
    tie_word_embeddings: true,
  });
}

/** The Mamba-2 of d_model 64 whose state size (a multiple of 8, at most 64) best matches `target`. */
function matchedMamba2(vocab: number, target: number) {
  const config = (N: number) =>
    mamba2Config({
      vocab_size: vocab,
      hidden_size: D_MODEL,
      num_hidden_layers: LAYERS,
      expand: 2,
      head_dim: 16,
      num_heads: (2 * D_MODEL) / 16,
      n_groups: 1,
      state_size: N,
      chunk_size: 64,
      tie_word_embeddings: true,
    });
  let best = config(8);
  for (let N = 16; N <= 64; N += 8) {
    const c = config(N);
    const gap = (x: typeof c) => Math.abs(mamba2ParamCount(x) - target);
    if (gap(c) < gap(best)) best = c;
  }
  return best;
}

/** The options this script reads; anything else is refused (a typo would silently use a default). */
const OPTIONS = [
  "model",
  "out",
  "name",
  "steps",
  "batch",
  "context",
  "lr",
  "warmup",
  "seed",
  "eval-every",
  "engine",
  "init",
];

function checkArgs(): void {
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i += 2) {
    const key = args[i].replace(/^--/, "");
    if (!args[i].startsWith("--") || !OPTIONS.includes(key) || i + 1 >= args.length) {
      throw new Error(
        `charlm: expected --option value pairs with options ${OPTIONS.join(", ")} (got ${JSON.stringify(args[i])})`,
      );
    }
  }
}

async function main(): Promise<void> {
  checkArgs();
  const which = arg("model", "");
  if (which !== "mamba" && which !== "transformer" && which !== "mamba2") {
    throw new Error(
      `charlm: --model must be mamba, transformer or mamba2 (got ${JSON.stringify(which)})`,
    );
  }
  const out = arg("out", path.join(datasetsDir(), "checkpoints", "charlm"));
  const name = arg("name", which);
  const steps = Number(arg("steps", "500"));
  const batchSize = Number(arg("batch", "8"));
  const context = Number(arg("context", "128"));
  const peakLr = Number(arg("lr", "0.003"));
  const warmup = Number(arg("warmup", "30"));
  const seed = Number(arg("seed", "0"));
  const evalEvery = Number(arg("eval-every", "50"));
  const engine = arg("engine", "simd");
  const init = arg("init", "fan-in");
  if (engine !== "simd" && engine !== "simd-threads" && engine !== "typescript") {
    throw new Error(`charlm: --engine must be simd, simd-threads or typescript (got ${engine})`);
  }
  if (init !== "fan-in" && init !== "hf") {
    throw new Error(`charlm: --init must be fan-in or hf (got ${init})`);
  }

  const text = loadDatasetText("austen-persuasion.txt");
  const vocab = charVocabulary(text);
  const V = vocab.chars.length;
  const split = splitTrainValidation(encodeChars(vocab, text), 0.1);
  const fullVal = validationWindows(split.validation, context);

  const mcfg = mambaConfig({ vocab_size: V, hidden_size: D_MODEL, num_hidden_layers: LAYERS });
  const mambaParams = mambaParamCount(mcfg);
  const tcfg = transformerConfig(V, matchedIntermediate(V, mambaParams));
  // Each model from its own seeded generator; the batches from seed + 1 for both.
  const mamba = which === "mamba" ? initMamba(mcfg, new Rng(seed)) : null;
  const transformer =
    which === "transformer" ? initTransformer(tcfg, new Rng(seed), { init }) : null;
  const m2cfg = matchedMamba2(V, mambaParams);
  const mamba2 = which === "mamba2" ? initMamba2(m2cfg, new Rng(seed)) : null;
  const model = (mamba ?? transformer ?? mamba2)!;
  const params = mamba
    ? mambaParams
    : mamba2
      ? mamba2ParamCount(m2cfg)
      : transformerParamCount(tcfg);
  const forward = (t: { shape: [number, number]; data: Int32Array }): Tensor =>
    mamba
      ? mambaForward(mamba, t)
      : mamba2
        ? mamba2Forward(mamba2, t, { engine: "simd" })
        : transformerForward(transformer!, t);

  const schedule = {
    peakLr,
    warmupSteps: Math.min(warmup, steps),
    totalSteps: steps,
    minLr: peakLr / 10,
  };
  const adamw = { beta1: 0.9, beta2: 0.95, weightDecay: 0.1 };
  const cpuNow = (): number => {
    const c = process.cpuUsage();
    return (c.user + c.system) / 1e6;
  };
  console.log(
    `charlm ${name}: ${which}${transformer ? ` (init ${init})` : ""}, ${params} parameters; vocabulary ${V}; train ${split.train.length} chars, validation ${split.validation.length} (the last 10%); ` +
      `${steps} steps of ${batchSize} x ${context} = ${steps * batchSize * context} tokens; lr ${peakLr}, seed ${seed}, engine ${engine}`,
  );
  const curve: { step: number; tokens: number; cpu_seconds: number; val_bits_per_char: number }[] =
    [];
  const lossCurve: { step: number; train_loss: number }[] = [];
  let evalCpu = 0; // CPU seconds spent evaluating, taken out of the training CPU seconds
  const cpuStarted = cpuNow();
  const evalCurve = (step: number): number => {
    const c0 = cpuNow();
    const bpc = evaluateBitsPerChar(forward, fullVal, 16);
    evalCpu += cpuNow() - c0;
    const cpu = cpuNow() - cpuStarted - evalCpu;
    curve.push({
      step,
      tokens: step * batchSize * context,
      cpu_seconds: cpu,
      val_bits_per_char: bpc,
    });
    console.log(
      `${name} step ${step}: validation bits/char ${bpc.toFixed(4)} (${cpu.toFixed(0)} CPU s of training)`,
    );
    return bpc;
  };
  evalCurve(0);
  const started = Date.now();
  const train = transformer ? trainTransformer : mamba2 ? trainMamba2 : trainMamba;
  let divergedAt: number | null = null;
  let divergence = "";
  let doneSteps = 0;
  try {
    const result = await train(model as never, {
      batch: (rng) => randomWindows(split.train, rng, batchSize, context),
      schedule,
      adamw,
      clip: 1,
      seed: seed + 1,
      engine,
      display: false,
      onStep: (r) => {
        doneSteps = r.step;
        if (r.step % 10 === 0 || r.step === 1) {
          lossCurve.push({ step: r.step, train_loss: r.loss });
        }
        if (r.step % 100 === 0 || r.step === 1) {
          console.log(
            `${name} step ${r.step}: loss ${r.loss.toFixed(4)} (${(r.loss / Math.LN2).toFixed(3)} bits/char) lr ${r.lr.toExponential(2)} |g| ${r.gradNorm.toFixed(3)} ${Math.round(r.tokensPerSecond)} tok/s`,
          );
        }
        if (evalEvery > 0 && r.step % evalEvery === 0 && r.step < steps) evalCurve(r.step);
      },
    });
    doneSteps = result.state.step;
  } catch (e) {
    // The loop stops before an update whose loss or gradients are not finite.
    if (!/finite/.test(String(e))) throw e;
    divergedAt = doneSteps + 1;
    divergence = String((e as Error).message ?? e);
    console.log(`${name}: diverged at step ${divergedAt}: ${divergence}`);
  }
  const seconds = (Date.now() - started) / 1000;
  // CPU seconds of this process (user + system, every thread) spent training: the wall-clock
  // seconds depend on what else shares the machine.
  const valBpc = divergedAt === null ? evalCurve(doneSteps) : null;
  const cpuSeconds = cpuNow() - cpuStarted - evalCpu;
  let sample: string | null = null;
  if (divergedAt === null) {
    const promptIds = Array.from(encodeChars(vocab, PROMPT));
    const genOptions = {
      maxNewTokens: SAMPLE_LENGTH,
      temperature: SAMPLE_TEMPERATURE,
      rng: new Rng(seed + 2),
    };
    const sampleIds = mamba
      ? mambaGenerate(mamba, promptIds, genOptions)
      : mamba2
        ? mamba2Generate(mamba2, promptIds, genOptions)
        : transformerGenerate(transformer!, promptIds, genOptions);
    sample = PROMPT + decodeChars(vocab, sampleIds);
    console.log(`${name} sample (temperature ${SAMPLE_TEMPERATURE}):\n${sample}`);
  }

  const dir = path.join(out, name);
  mkdirSync(dir, { recursive: true });
  if (divergedAt === null) {
    if (mamba) saveMambaCheckpoint(mamba, dir);
    else if (mamba2) saveMamba2Checkpoint(mamba2, dir);
    else saveTransformerCheckpoint(transformer!, dir);
  }
  writeFileSync(
    path.join(dir, "charlm.json"),
    JSON.stringify(
      {
        model: which,
        architecture: mamba
          ? "MambaForCausalLM"
          : mamba2
            ? "Mamba2ForCausalLM"
            : "LlamaForCausalLM",
        parameters: params,
        d_model: D_MODEL,
        layers: LAYERS,
        ...(transformer
          ? { heads: HEADS, intermediate_size: tcfg.intermediate_size, init }
          : mamba2
            ? {
                heads: m2cfg.num_heads,
                head_dim: m2cfg.head_dim,
                state_size: m2cfg.state_size,
                n_groups: m2cfg.n_groups,
                init: "upstream Mamba-2 (initMamba2)",
              }
            : { init: "upstream Mamba (initMamba)" }),
        dataset: "austen-persuasion.txt",
        vocabulary: vocab.chars.join(""),
        validation:
          "the last 10% of the text: splitTrainValidation(encodeChars(vocab, text), 0.1).validation",
        validation_characters: fullVal.targets.data.length,
        val_bits_per_char: valBpc,
        ...(divergedAt === null ? {} : { diverged_at_step: divergedAt, divergence }),
        val_curve_windows: fullVal.tokens.shape[0],
        val_curve: curve,
        train_loss_curve: lossCurve,
        steps: doneSteps,
        batch_size: batchSize,
        context,
        tokens: doneSteps * batchSize * context,
        schedule,
        adamw,
        clip: 1,
        seed,
        engine,
        seconds,
        cpu_seconds: cpuSeconds,
        eval_cpu_seconds: evalCpu,
        sample:
          sample === null
            ? null
            : { prompt: PROMPT, temperature: SAMPLE_TEMPERATURE, rng_seed: seed + 2, text: sample },
        node: process.version,
        cpu: cpus()[0]?.model ?? "unknown",
        command: `npm run train -- charlm ${process.argv.slice(2).join(" ")}`.trim(),
      },
      null,
      2,
    ) + "\n",
  );
  console.log(
    `${name}: ${divergedAt === null ? `validation bits/char ${valBpc!.toFixed(4)}; ` : ""}saved ${dir} (${seconds.toFixed(0)} s of training, ${cpuSeconds.toFixed(0)} s of CPU time, ${evalCpu.toFixed(0)} s evaluating)`,
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
