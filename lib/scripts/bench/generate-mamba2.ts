/**
 * Benchmark: generation with a Mamba-2-130m-size model (`state-spaces/mamba2-130m`'s sizes:
 * d_model 768, 24 layers, vocab 50288, 24 heads of 64, N 128, one group, tied head), random
 * weights written by transformers itself (`generate_torch.py make --model mamba2`, into
 * .bench/generate-mamba2/, git-ignored) in F32.
 *
 * For each engine it reads a prompt of PROMPT tokens (`mamba2Prefill`, one pass: the projections
 * on the SIMD gemm and the SSD by the chunked algorithm on the same gemm) and decodes DECODE
 * tokens greedily (`mamba2Step` per token: SIMD matrix-vector products and the SSD's state update
 * in one pass per head): prompt tokens/s and decode tokens/s, the best of REPEATS runs. In the
 * same run:
 * - transformers' own `Mamba2ForCausalLM` on the CPU (its PyTorch path: `torch_forward`, the
 *   chunked SSD in PyTorch), in float32 on all cores and on one, timed by `generate_torch.py
 *   time`: the strongest thing a user would pick instead. The × columns compare with the fastest
 *   of those rows;
 * - the physical limits: a decoding step reads every weight once (and the cache's states, 19 MB
 *   here, read and written: counted too), so its time is at least those bytes over the memory
 *   bandwidth measured here on the engine's threads; a prompt token costs 2 FLOPs per weight of
 *   the blocks' projections, against the measured float32 SIMD peak (the SSD's own products, about
 *   a tenth of that at this prompt length, are left out of the count);
 * - greedy agreement with transformers (same prompt).
 *
 * Python: the benchmarks' Python (`../bench-python.ts`, $TORCH_PYTHON), with torch and transformers.
 * Run: `npm run bench -- generate-mamba2` (after `npm run build`). Environment:
 * GENERATE_BENCH_PROMPT, GENERATE_BENCH_DECODE, GENERATE_BENCH_REPEATS override the sizes.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { Rng } from "../../dist/rng";
import type { Tensor } from "../../dist/tensor";
import type { MambaEngine } from "../../dist/mamba/engine";
import { loadMamba2Checkpoint } from "../../dist/mamba2/checkpoint";
import {
  createMamba2Cache,
  mamba2CacheBytes,
  mamba2Prefill,
  mamba2Step,
} from "../../dist/mamba2/cache";
import type { Mamba2Model } from "../../dist/mamba2/model";
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
  generateTorch,
  load,
  peakOn,
  sameLeadingTokens,
  timeTransformers,
} from "../bench-generate-common";

const ROOT = path.resolve(__dirname, "../../..");
const DIR = path.join(ROOT, ".bench", "generate-mamba2");

/** Bytes of weights a decoding step reads: every parameter (the tied embedding once, as the head). */
function weightBytes(m: Mamba2Model): number {
  let bytes = 0;
  for (const t of m.params.values()) bytes += t.data.byteLength;
  return bytes;
}

/** Multiply-adds per prompt token in the blocks' projections (the head runs once per prompt). */
function blockMacsPerToken(m: Mamba2Model): number {
  let macs = 0;
  for (const [name, t] of m.params)
    if (/mixer\.(in|out)_proj\.weight$/.test(name)) macs += t.shape[0] * t.shape[1];
  return macs;
}

function argmax(logits: Tensor): number {
  let best = 0;
  for (let v = 1; v < logits.data.length; v++) if (logits.data[v] > logits.data[best]) best = v;
  return best;
}

/** Prompt and decode tokens/s (best of `repeats`) and the greedy tokens, on `engine`. */
function timeEngine(
  model: Mamba2Model,
  prompt: number[],
  decode: number,
  engine: MambaEngine,
  repeats: number,
) {
  let bestPrompt = 0;
  let bestDecode = 0;
  let tokens: number[] = [];
  let stateBytes = 0;
  for (let r = 0; r <= repeats; r++) {
    // r = 0 is a short warm-up (the kernels, the arena, the worker threads)
    const p = r === 0 ? prompt.slice(0, 4) : prompt;
    const n = r === 0 ? 2 : decode;
    const cache = createMamba2Cache(model, 1);
    const t0 = performance.now();
    let logits = mamba2Prefill(model, cache, [p], { engine });
    const t1 = performance.now();
    const out = [argmax(logits)];
    for (let i = 0; i < n; i++) {
      logits = mamba2Step(model, cache, [out[out.length - 1]], { engine });
      out.push(argmax(logits));
    }
    const t2 = performance.now();
    if (r === 0) continue;
    bestPrompt = Math.max(bestPrompt, (p.length / (t1 - t0)) * 1000);
    bestDecode = Math.max(bestDecode, (n / (t2 - t1)) * 1000);
    tokens = out;
    stateBytes = mamba2CacheBytes(cache);
  }
  return { prompt: bestPrompt, decode: bestDecode, tokens, stateBytes };
}

interface Row {
  engine: string;
  threads: number;
  prompt: number;
  decode: number;
}

async function main(): Promise<void> {
  console.log(
    `Mamba-2-130m-size generation (d_model 768, 24 layers, vocab 50288, 24 heads of 64, N 128, random weights), Node ${process.version}, ${THREADS} cores; load average at start ${load()}`,
  );
  console.log(`prompt: ${PROMPT} tokens; decode: ${DECODE} tokens greedy; best of ${REPEATS}`);
  const versions = generateTorch(["versions"]);
  if (!existsSync(path.join(DIR, "f32", "model.safetensors"))) {
    mkdirSync(DIR, { recursive: true });
    console.log(`writing the checkpoint (generate_torch.py make ${DIR} --model mamba2) ...`);
    const made = generateTorch(["make", DIR, "--model", "mamba2"]);
    if (!made.ok) throw new Error(`cannot write the checkpoint: ${made.why}`);
  }
  console.log(
    `transformers side: ${torchLine()}: ${versions.ok ? versions.out : `unavailable (${versions.why})`}`,
  );

  const peak = measureSimdPeakGflops();
  const peakT = await peakOn(THREADS);
  const bw1 = await bandwidthOn(1);
  const bwT = await bandwidthOn(THREADS);
  console.log(
    `measured: f32x4 mul+add peak ${peak.toFixed(1)} GFLOP/s on 1 thread, ${peakT.toFixed(1)} on ${THREADS} at once; memory read ${(bw1 / 1e9).toFixed(1)} GB/s on 1 thread, ${(bwT / 1e9).toFixed(1)} GB/s on ${THREADS} at once\n`,
  );

  const rng = new Rng(1);
  const prompt = Array.from({ length: PROMPT }, () => rng.int(50280));
  const promptFile = path.join(DIR, "prompt.json");
  writeFileSync(promptFile, JSON.stringify(prompt));

  const model = loadMamba2Checkpoint(path.join(DIR, "f32"));
  const bytes = weightBytes(model);
  const macs = blockMacsPerToken(model);
  const rows: Row[] = [];
  const greedy: Record<string, number[]> = {};
  let stateBytes = 0;
  for (const engine of ["simd", "simd-threads"] as const) {
    const r = timeEngine(model, prompt, DECODE, engine, REPEATS);
    greedy[engine] = r.tokens;
    stateBytes = r.stateBytes;
    rows.push({ engine, threads: engine === "simd-threads" ? THREADS : 1, ...r });
    console.log(
      `  ${engine}: prompt ${r.prompt.toFixed(1)} tokens/s, decode ${r.decode.toFixed(1)} tokens/s (load ${load()})`,
    );
  }
  // the reference engine, shorter (it is one to two orders of magnitude slower)
  const ref = timeEngine(model, prompt.slice(0, 16), 4, "typescript", 1);
  rows.push({ engine: "typescript", threads: 1, ...ref });

  // transformers on the CPU, same prompt
  const torch: Record<string, TorchTiming> = {};
  for (const [label, threads] of [
    ["float32", THREADS],
    ["float32, 1 thread", 1],
  ] as const) {
    torch[label] = timeTransformers(label, {
      folder: path.join(DIR, "f32"),
      promptFile,
      decode: DECODE,
      threads,
      dtype: "float32",
      repeats: Math.min(REPEATS, 2),
    });
  }

  const bestPrompt = fastestTransformers(torch, "prompt");
  const bestDecode = fastestTransformers(torch, "decode");
  const fmt = (v: number, d = 1) => (Number.isFinite(v) ? v.toFixed(d) : "-");
  // a step reads every weight and reads and writes each layer's state
  const stepBytes = bytes + 2 * stateBytes;
  console.log(
    `\n| engine | threads | prompt tok/s | × transformers | % of SIMD peak | decode tok/s | × transformers | bandwidth limit tok/s | % of limit |`,
  );
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const r of rows) {
    const limit = (r.threads === 1 ? bw1 : bwT) / stepBytes;
    const peakTokens = ((r.threads === 1 ? peak : peakT) * 1e9) / (2 * macs);
    console.log(
      `| ${r.engine} | ${r.threads} | ${fmt(r.prompt)} | ${fmt(r.prompt / bestPrompt.rate, 2)} | ${fmt((100 * r.prompt) / peakTokens, 0)}% | ${fmt(r.decode)} | ${fmt(r.decode / bestDecode.rate, 2)} | ${fmt(limit)} | ${fmt((100 * r.decode) / limit, 0)}% |`,
    );
  }
  for (const [label, t] of Object.entries(torch)) {
    if (typeof t === "string") console.log(`| transformers ${label} | - | ${t} |`);
    else
      console.log(
        `| transformers ${label} | ${label.includes("1 thread") ? 1 : THREADS} | ${fmt(t.prompt)} | | | ${fmt(t.decode)} | | | |`,
      );
  }
  console.log(
    `(× transformers: against the fastest transformers row of this run, prompt: ${bestPrompt.label}, decode: ${bestDecode.label}; bandwidth limit: measured read bandwidth on the engine's threads / (${(bytes / 1e6).toFixed(0)} MB of weights + 2 × ${(stateBytes / 1e6).toFixed(1)} MB of state) per token; % of SIMD peak: against the peak measured on the engine's threads, 2 FLOPs per multiply-add of the projections)`,
  );
  const tf = torch.float32;
  if (tf !== undefined && typeof tf !== "string")
    console.log(
      `greedy tokens, simd-threads against transformers float32: the first ${sameLeadingTokens(greedy["simd-threads"], tf.tokens)} of ${greedy["simd-threads"].length} agree; simd against simd-threads: ${sameLeadingTokens(greedy.simd, greedy["simd-threads"])}`,
    );
  console.log(`load average at the end: ${load()}`);
  process.exit(0);
}

void main().catch((e: unknown) => {
  console.error(`bench generate-mamba2: ${(e as Error).message}`);
  process.exit(1);
});
