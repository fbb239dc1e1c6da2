/**
 * Benchmark: generation with a Mamba-130m-size model (`state-spaces/mamba-130m-hf`'s config:
 * d_model 768, 24 layers, vocab 50280, N 16, tied head), random weights written by transformers
 * itself (`generate_torch.py make`, into .bench/generate/, git-ignored) in F32 and in BF16.
 *
 * For each engine and weight format it reads a prompt of PROMPT tokens (`mambaPrefill`, one pass)
 * and decodes DECODE tokens greedily (`mambaStep` per token), through `mambaGenerateWithStats`:
 * prompt tokens/s and decode tokens/s, the best of REPEATS runs. In the same run:
 * - transformers' own `MambaForCausalLM` on the CPU (its PyTorch path), in float32 on all cores
 *   and on one (`torch.set_num_threads`), and in bfloat16 on all cores, timed by
 *   `generate_torch.py time`: the strongest thing a user would pick instead. The × columns
 *   compare with the fastest of those rows, whichever it is;
 * - the physical limits: a decoding step reads every weight once, so its time is at least the
 *   weight bytes over the memory bandwidth, measured here (streaming reads on 1 and on all
 *   threads at once); a prompt token costs 2 FLOPs per weight of the blocks, against the
 *   measured float32 SIMD peak (f32x4 multiply + add, per core, times the threads);
 * - what keeping BF16 costs in accuracy: the BF16 checkpoint's logits against the F32
 *   checkpoint's (the rounding of the weights to bfloat16, which the file made), and the kept
 *   weights against the same file loaded as float32 (nothing: the values are the same);
 * - greedy agreement with transformers (the F32 checkpoint, same prompt).
 *
 * Python: the benchmarks' Python (`../bench-python.ts`, $TORCH_PYTHON), with torch and transformers.
 * Run: `npm run bench -- generate` (after `npm run build`). Environment: GENERATE_BENCH_PROMPT,
 * GENERATE_BENCH_DECODE, GENERATE_BENCH_REPEATS override the sizes.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { Rng } from "../../dist/rng";
import { loadMambaCheckpoint } from "../../dist/mamba/checkpoint";
import { mambaForward } from "../../dist/mamba/forward";
import { mambaGenerateWithStats } from "../../dist/mamba/generate";
import type { MambaEngine } from "../../dist/mamba/engine";
import type { MambaModel } from "../../dist/mamba/model";
import { measureSimdPeakGflops } from "../../dist/ops/simd/peak";
import { torchLine } from "../bench-python";
import {
  DECODE,
  PROMPT,
  REPEATS,
  THREADS,
  type TorchTiming,
  bandwidthOn,
  fastestTransformers,
  generateTorch as python,
  load,
  peakOn,
  sameLeadingTokens,
  timeTransformers,
} from "../bench-generate-common";

const ROOT = path.resolve(__dirname, "../../..");
const DIR = path.join(ROOT, ".bench", "generate");

/** Bytes of weights a decoding step reads: every parameter (the embedding once, as the head). */
function weightBytes(m: MambaModel): number {
  let bytes = 0;
  for (const t of m.params.values()) bytes += t.data.byteLength;
  for (const t of m.half?.values() ?? []) bytes += t.data.byteLength;
  return bytes;
}

/** Multiply-adds per prompt token in the blocks' products (the head runs once per prompt). */
function blockMacsPerToken(m: MambaModel): number {
  let macs = 0;
  const all = [...m.params.entries(), ...(m.half?.entries() ?? [])];
  for (const [name, t] of all)
    if (/mixer\.(in|x|dt|out)_proj\.weight$/.test(name)) macs += t.shape[0] * t.shape[1];
  return macs;
}

interface Row {
  weights: string;
  engine: string;
  threads: number;
  prompt: number;
  decode: number;
  bytes: number;
  macs: number;
}

function timeEngine(model: MambaModel, prompt: number[], engine: MambaEngine, repeats: number) {
  mambaGenerateWithStats(model, prompt.slice(0, 4), { maxNewTokens: 2, temperature: 0, engine });
  let bestPrompt = 0;
  let bestDecode = 0;
  let tokens: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const s = mambaGenerateWithStats(model, prompt, {
      maxNewTokens: DECODE + 1,
      temperature: 0,
      engine,
    });
    bestPrompt = Math.max(bestPrompt, (prompt.length / s.prefillMs) * 1000);
    bestDecode = Math.max(bestDecode, ((s.tokens.length - 1) / s.decodeMs) * 1000);
    tokens = s.tokens;
  }
  return { prompt: bestPrompt, decode: bestDecode, tokens };
}

async function main(): Promise<void> {
  console.log(
    `Mamba-130m-size generation (d_model 768, 24 layers, vocab 50280, random weights), Node ${process.version}, ${THREADS} cores; load average at start ${load()}`,
  );
  console.log(`prompt: ${PROMPT} tokens; decode: ${DECODE} tokens greedy; best of ${REPEATS}`);
  const versions = python(["versions"]);
  if (!existsSync(path.join(DIR, "f32", "model.safetensors"))) {
    mkdirSync(DIR, { recursive: true });
    console.log(`writing the checkpoints (generate_torch.py make ${DIR}) ...`);
    const made = python(["make", DIR]);
    if (!made.ok) throw new Error(`cannot write the checkpoints: ${made.why}`);
  }
  console.log(
    `transformers side: ${torchLine()}: ${versions.ok ? versions.out : `unavailable (${versions.why})`}`,
  );

  const peak = measureSimdPeakGflops();
  const peakT = await peakOn(THREADS);
  const bw1 = await bandwidthOn(1);
  const bwT = await bandwidthOn(THREADS);
  console.log(
    `measured: f32x4 mul+add peak ${peak.toFixed(1)} GFLOP/s on 1 thread, ${peakT.toFixed(1)} on ${THREADS} at once (${(peakT / peak).toFixed(2)} cores' worth: below ${THREADS} when the machine is shared); memory read ${(bw1 / 1e9).toFixed(1)} GB/s on 1 thread, ${(bwT / 1e9).toFixed(1)} GB/s on ${THREADS} at once\n`,
  );

  const rng = new Rng(1);
  const prompt = Array.from({ length: PROMPT }, () => rng.int(50280));
  const promptFile = path.join(DIR, "prompt.json");
  writeFileSync(promptFile, JSON.stringify(prompt));

  const rows: Row[] = [];
  const greedy: Record<string, number[]> = {};
  for (const [weights, folder, keep] of [
    ["F32", "f32", undefined],
    ["BF16 kept", "bf16", "bf16"],
  ] as const) {
    const model = loadMambaCheckpoint(path.join(DIR, folder), keep ? { keep } : {});
    const engines: MambaEngine[] = ["simd", "simd-threads"];
    for (const engine of engines) {
      const r = timeEngine(model, prompt, engine, REPEATS);
      greedy[`${weights} ${engine}`] = r.tokens;
      rows.push({
        weights,
        engine,
        threads: engine === "simd-threads" ? THREADS : 1,
        prompt: r.prompt,
        decode: r.decode,
        bytes: weightBytes(model),
        macs: blockMacsPerToken(model),
      });
      console.log(
        `  ${weights}, ${engine}: prompt ${r.prompt.toFixed(1)} tokens/s, decode ${r.decode.toFixed(1)} tokens/s (load ${load()})`,
      );
    }
    if (weights === "F32") {
      // the reference engine, shorter (it is two orders of magnitude slower)
      const short = prompt.slice(0, 16);
      const s = mambaGenerateWithStats(model, short, {
        maxNewTokens: 5,
        temperature: 0,
        engine: "typescript",
      });
      rows.push({
        weights,
        engine: "typescript",
        threads: 1,
        prompt: (short.length / s.prefillMs) * 1000,
        decode: ((s.tokens.length - 1) / s.decodeMs) * 1000,
        bytes: weightBytes(model),
        macs: blockMacsPerToken(model),
      });
    }
  }

  // transformers on the CPU, same prompt, same thread count
  const torch: Record<string, TorchTiming> = {};
  for (const [label, folder, dtype, threads] of [
    ["float32", "f32", "float32", THREADS],
    ["float32, 1 thread", "f32", "float32", 1],
    ["bfloat16", "bf16", "bfloat16", THREADS],
  ] as const) {
    torch[label] = timeTransformers(label, {
      folder: path.join(DIR, folder),
      promptFile,
      decode: DECODE,
      threads,
      dtype,
      repeats: Math.min(REPEATS, 2),
    });
  }

  // the table: each engine against the fastest transformers row of this run for that metric
  const bestPrompt = fastestTransformers(torch, "prompt");
  const bestDecode = fastestTransformers(torch, "decode");
  const fmt = (v: number, d = 1) => (Number.isFinite(v) ? v.toFixed(d) : "-");
  console.log(
    `\n| weights | engine | threads | prompt tok/s | × transformers | % of SIMD peak | decode tok/s | × transformers | bandwidth limit tok/s | % of limit |`,
  );
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const r of rows) {
    const limit = (r.threads === 1 ? bw1 : bwT) / r.bytes;
    const peakTokens = ((r.threads === 1 ? peak : peakT) * 1e9) / (2 * r.macs);
    console.log(
      `| ${r.weights} | ${r.engine} | ${r.threads} | ${fmt(r.prompt)} | ${fmt(r.prompt / bestPrompt.rate, 2)} | ${fmt((100 * r.prompt) / peakTokens, 0)}% | ${fmt(r.decode)} | ${fmt(r.decode / bestDecode.rate, 2)} | ${fmt(limit)} | ${fmt((100 * r.decode) / limit, 0)}% |`,
    );
  }
  for (const [label, t] of Object.entries(torch)) {
    if (typeof t === "string") console.log(`| transformers ${label} | - | - | ${t} |`);
    else
      console.log(
        `| transformers ${label} | PyTorch CPU | ${label.includes("1 thread") ? 1 : THREADS} | ${fmt(t.prompt)} | | | ${fmt(t.decode)} | | | |`,
      );
  }
  console.log(
    `(× transformers: against the fastest transformers row of this run, prompt: ${bestPrompt.label}, decode: ${bestDecode.label}; bandwidth limit: measured read bandwidth on the engine's threads / weight bytes per token; % of SIMD peak: against the peak measured on the engine's threads, 2 FLOPs per multiply-add of the blocks' products)`,
  );

  // accuracy of BF16, and greedy agreement
  const f32 = loadMambaCheckpoint(path.join(DIR, "f32"));
  const bf16Float = loadMambaCheckpoint(path.join(DIR, "bf16"));
  const bf16Kept = loadMambaCheckpoint(path.join(DIR, "bf16"), { keep: "bf16" });
  const probe = [prompt.slice(0, 64)];
  const ref = mambaForward(f32, probe, { engine: "simd" }).data;
  const rel = (a: ArrayLike<number>, b: ArrayLike<number>) => {
    let num = 0;
    let den = 0;
    for (let i = 0; i < b.length; i++) {
      num = Math.max(num, Math.abs(a[i] - b[i]));
      den = Math.max(den, Math.abs(b[i]));
    }
    return num / den;
  };
  const keptLogits = mambaForward(bf16Kept, probe, { engine: "simd" }).data;
  const floatLogits = mambaForward(bf16Float, probe, { engine: "typescript" }).data;
  console.log(
    `\nlogits over 64 positions, max difference over max |logit|:` +
      `\n  F32 file, engine simd against engine typescript (float32 rounding, for scale): ${rel(ref, mambaForward(f32, probe, { engine: "typescript" }).data).toExponential(2)}` +
      `\n  BF16 file kept in BF16 (simd) against the same file as float32 (typescript): ${rel(keptLogits, floatLogits).toExponential(2)}` +
      `\n  BF16 file against F32 file (the checkpoint's rounding of every weight to bfloat16): ${rel(keptLogits, ref).toExponential(2)}`,
  );
  const a = greedy["F32 simd-threads"];
  const b = greedy["BF16 kept simd-threads"];
  const bFloat = mambaGenerateWithStats(bf16Float, prompt, {
    maxNewTokens: a.length,
    temperature: 0,
    engine: "simd-threads",
  }).tokens;
  console.log(
    `greedy tokens, BF16 kept against the BF16 file as float32 (both simd-threads): the first ${sameLeadingTokens(b, bFloat)} of ${b.length} agree; against the F32 file: ${sameLeadingTokens(a, b)}`,
  );
  const tf = torch.float32;
  if (tf !== undefined && typeof tf !== "string")
    console.log(
      `greedy tokens, F32 against transformers float32: the first ${sameLeadingTokens(a, tf.tokens)} of ${a.length} agree`,
    );
  console.log(`load average at the end: ${load()}`);
  process.exit(0);
}

void main().catch((e: unknown) => {
  console.error(`bench generate: ${(e as Error).message}`);
  process.exit(1);
});
