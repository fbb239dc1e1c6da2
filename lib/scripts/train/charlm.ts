/**
 * Lesson 12's character-level language models on Jane Austen's *Persuasion*
 * (datasets/austen-persuasion.txt): a Mamba and a Transformer++ of about the same parameter count
 * (d_model 64, 2 layers; the Transformer's MLP width chosen to match Mamba's count), trained for
 * the same number of tokens with the same schedule, data order and seed.
 *
 * Data (lib/src/charlm): the vocabulary is the text's 75 distinct characters; the last 10% of the
 * text is validation (never seen in training); training batches are windows of context + 1
 * characters at random starts in the first 90%. Validation bits per character is the mean
 * cross-entropy / ln 2 over every character of the validation part (consecutive windows of the
 * context length); a curve on its first 32 windows (4096 characters) is recorded during training.
 *
 * Writes `<out>/<model>/` (config.json + model.safetensors, HF `MambaForCausalLM` or
 * `LlamaForCausalLM`) and `<out>/<model>/charlm.json` (settings, command, the vocabulary, the
 * curves, validation bits/char, seconds, a sample). One model per run, so the two can run side by
 * side on two cores:
 *
 *   npm run train -- charlm --model mamba|transformer [--out datasets/checkpoints/charlm]
 *     [--steps 500] [--batch 8] [--context 128] [--lr 0.003] [--seed 0] [--eval-every 50]
 */
import { writeFileSync } from "node:fs";
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
import { trainMamba, trainTransformer } from "../../dist/train/loop";
import type { Tensor } from "../../dist/tensor";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

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

async function main(): Promise<void> {
  const which = arg("model", "");
  if (which !== "mamba" && which !== "transformer") {
    throw new Error(`charlm: --model must be mamba or transformer (got ${JSON.stringify(which)})`);
  }
  const out = arg("out", path.join(datasetsDir(), "checkpoints", "charlm"));
  const steps = Number(arg("steps", "500"));
  const batchSize = Number(arg("batch", "8"));
  const context = Number(arg("context", "128"));
  const peakLr = Number(arg("lr", "0.003"));
  const seed = Number(arg("seed", "0"));
  const evalEvery = Number(arg("eval-every", "50"));

  const text = loadDatasetText("austen-persuasion.txt");
  const vocab = charVocabulary(text);
  const V = vocab.chars.length;
  const split = splitTrainValidation(encodeChars(vocab, text), 0.1);
  const fullVal = validationWindows(split.validation, context);
  const curveVal = validationWindows(split.validation, context, 32);

  const mcfg = mambaConfig({ vocab_size: V, hidden_size: D_MODEL, num_hidden_layers: LAYERS });
  const mambaParams = mambaParamCount(mcfg);
  const tcfg = transformerConfig(V, matchedIntermediate(V, mambaParams));
  // Each model from its own seeded generator; the batches from seed + 1 for both.
  const mamba = which === "mamba" ? initMamba(mcfg, new Rng(seed)) : null;
  const transformer = which === "transformer" ? initTransformer(tcfg, new Rng(seed)) : null;
  const model = (mamba ?? transformer)!;
  const params = mamba ? mambaParams : transformerParamCount(tcfg);
  const forward = (t: { shape: [number, number]; data: Int32Array }): Tensor =>
    mamba ? mambaForward(mamba, t) : transformerForward(transformer!, t);

  const schedule = {
    peakLr,
    warmupSteps: Math.min(30, steps),
    totalSteps: steps,
    minLr: peakLr / 10,
  };
  const adamw = { beta1: 0.9, beta2: 0.95, weightDecay: 0.1 };
  console.log(
    `charlm ${which}: ${params} parameters; vocabulary ${V}; train ${split.train.length} chars, validation ${split.validation.length} (the last 10%); ` +
      `${steps} steps of ${batchSize} x ${context} = ${steps * batchSize * context} tokens`,
  );
  const curve: { step: number; val_bits_per_char: number }[] = [];
  const lossCurve: { step: number; train_loss: number }[] = [];
  const evalCurve = (step: number): void => {
    const bpc = evaluateBitsPerChar(forward, curveVal, 8);
    curve.push({ step, val_bits_per_char: bpc });
    console.log(`${which} step ${step}: validation bits/char (first 32 windows) ${bpc.toFixed(4)}`);
  };
  evalCurve(0);
  const started = Date.now();
  const cpuStarted = process.cpuUsage();
  const train = transformer ? trainTransformer : trainMamba;
  const result = await train(model as never, {
    batch: (rng) => randomWindows(split.train, rng, batchSize, context),
    schedule,
    adamw,
    clip: 1,
    seed: seed + 1,
    display: false,
    onStep: (r) => {
      if (r.step % 10 === 0 || r.step === 1) lossCurve.push({ step: r.step, train_loss: r.loss });
      if (r.step % 25 === 0 || r.step === 1) {
        console.log(
          `${which} step ${r.step}: loss ${r.loss.toFixed(4)} (${(r.loss / Math.LN2).toFixed(3)} bits/char) lr ${r.lr.toExponential(2)} |g| ${r.gradNorm.toFixed(3)} ${Math.round(r.tokensPerSecond)} tok/s`,
        );
      }
      if (evalEvery > 0 && r.step % evalEvery === 0) evalCurve(r.step);
    },
  });
  const seconds = (Date.now() - started) / 1000;
  // CPU time of this process (user + system): the wall-clock seconds depend on what else shares the machine.
  const cpu = process.cpuUsage(cpuStarted);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const t0 = Date.now();
  const valBpc = evaluateBitsPerChar(forward, fullVal, 16);
  const evalSeconds = (Date.now() - t0) / 1000;
  console.log(
    `${which}: validation bits/char over all ${fullVal.targets.data.length} validation characters: ${valBpc.toFixed(4)} (${evalSeconds.toFixed(1)} s)`,
  );
  const promptIds = Array.from(encodeChars(vocab, PROMPT));
  const genOptions = {
    maxNewTokens: SAMPLE_LENGTH,
    temperature: SAMPLE_TEMPERATURE,
    rng: new Rng(seed + 2),
  };
  const sampleIds = mamba
    ? mambaGenerate(mamba, promptIds, genOptions)
    : transformerGenerate(transformer!, promptIds, genOptions);
  const sample = PROMPT + decodeChars(vocab, sampleIds);
  console.log(`${which} sample (temperature ${SAMPLE_TEMPERATURE}):\n${sample}`);

  const dir = path.join(out, which);
  if (mamba) saveMambaCheckpoint(mamba, dir);
  else saveTransformerCheckpoint(transformer!, dir);
  writeFileSync(
    path.join(dir, "charlm.json"),
    JSON.stringify(
      {
        model: which,
        architecture: mamba ? "MambaForCausalLM" : "LlamaForCausalLM",
        parameters: params,
        d_model: D_MODEL,
        layers: LAYERS,
        ...(transformer ? { heads: HEADS, intermediate_size: tcfg.intermediate_size } : {}),
        dataset: "austen-persuasion.txt",
        vocabulary: vocab.chars.join(""),
        validation:
          "the last 10% of the text: splitTrainValidation(encodeChars(vocab, text), 0.1).validation",
        validation_characters: fullVal.targets.data.length,
        val_bits_per_char: valBpc,
        val_curve_windows: 32,
        val_curve: curve,
        train_loss_curve: lossCurve,
        steps: result.state.step,
        batch_size: batchSize,
        context,
        tokens: result.state.step * batchSize * context,
        schedule,
        adamw,
        clip: 1,
        seed,
        seconds,
        cpu_seconds: cpuSeconds,
        sample: {
          prompt: PROMPT,
          temperature: SAMPLE_TEMPERATURE,
          rng_seed: seed + 2,
          text: sample,
        },
        node: process.version,
        command: `npm run train -- charlm ${process.argv.slice(2).join(" ")}`.trim(),
      },
      null,
      2,
    ) + "\n",
  );
  console.log(
    `${which}: saved ${dir} (${seconds.toFixed(0)} s of training, ${cpuSeconds.toFixed(0)} s of CPU time)`,
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
