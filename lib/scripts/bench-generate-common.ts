/**
 * What the generation benchmarks (`bench/generate.ts` for Mamba, `bench/generate-mamba2.ts` for
 * Mamba-2) share: the transformers side (`bench/generate_torch.py`, run in the benchmarks'
 * Python: its timing, the fastest of its settings, greedy agreement), and the physical limits
 * measured on the threads an engine uses: the float32 SIMD peak and the streaming read bandwidth
 * of that many threads running at once.
 *
 * Not a benchmark itself: it lives beside `bench/`, whose every file the bench runner runs.
 */
import { spawnSync } from "node:child_process";
import { availableParallelism, loadavg } from "node:os";
import * as path from "node:path";
import { Worker } from "node:worker_threads";
import { measureMemoryBandwidth } from "../dist/selective-fast/limits";
import { torchPython } from "./bench-python";

/** The sizes of a generation benchmark: prompt tokens, decoded tokens, repeats (environment). */
export const PROMPT = Number(process.env.GENERATE_BENCH_PROMPT ?? 128);
export const DECODE = Number(process.env.GENERATE_BENCH_DECODE ?? 64);
export const REPEATS = Number(process.env.GENERATE_BENCH_REPEATS ?? 3);
/** The threads of the "simd-threads" rows and of transformers' all-core rows. */
export const THREADS = availableParallelism();

const TORCH_SCRIPT = path.resolve(__dirname, "..", "scripts", "bench", "generate_torch.py");

/** The load average, for the printout (the machines are shared: say what else ran). */
export const load = (): string =>
  loadavg()
    .map((v) => v.toFixed(2))
    .join(", ");

/** Runs `bench/generate_torch.py` with `args` in the benchmarks' Python: its stdout, or why not. */
export function generateTorch(
  args: string[],
): { ok: true; out: string } | { ok: false; why: string } {
  const found = torchPython();
  if ("why" in found) return { ok: false, why: found.why };
  const py = found.python;
  const r = spawnSync(py, [TORCH_SCRIPT, ...args], { encoding: "utf8", maxBuffer: 1 << 24 });
  if (r.error) return { ok: false, why: `${py}: ${r.error.message}` };
  if (r.status !== 0) return { ok: false, why: `${py} failed: ${r.stderr.trim().slice(-400)}` };
  return { ok: true, out: r.stdout.trim() };
}

/**
 * Runs `threads` workers at once and sums what they measure: each calls `fn` of `module` (a built
 * lib file) with the arguments `warmUp` (to compile before the start), waits for the common
 * start, then posts what `fn` returns with the arguments `measure`.
 */
async function allAtOnce(
  threads: number,
  module: string,
  fn: string,
  warmUp: string,
  measure: string,
): Promise<number> {
  const start = new Int32Array(new SharedArrayBuffer(4));
  const code = `
    const { workerData, parentPort } = require("node:worker_threads");
    const { ${fn} } = require(workerData.module);
    ${fn}(${warmUp});
    Atomics.wait(workerData.start, 0, 0);
    parentPort.postMessage(${fn}(${measure}));`;
  const rates = Array.from(
    { length: threads },
    () =>
      new Promise<number>((resolve, reject) => {
        const w = new Worker(code, { eval: true, workerData: { module, start } });
        w.once("message", (v: number) => {
          resolve(v);
          void w.terminate();
        });
        w.once("error", reject);
      }),
  );
  await new Promise((r) => setTimeout(r, 500));
  Atomics.store(start, 0, 1);
  Atomics.notify(start, 0);
  return (await Promise.all(rates)).reduce((a, b) => a + b, 0);
}

/** Streaming read bandwidth (bytes/s) of `threads` threads reading at once, summed. */
export async function bandwidthOn(threads: number): Promise<number> {
  if (threads === 1) return measureMemoryBandwidth({ bytes: 2 ** 27, repeats: 5 });
  const limits = path.resolve(__dirname, "../dist/selective-fast/limits.js");
  const [warmUp, measure] = ["{ bytes: 2 ** 22, repeats: 1 }", "{ bytes: 2 ** 27, repeats: 5 }"];
  return allAtOnce(threads, limits, "measureMemoryBandwidth", warmUp, measure);
}

/**
 * The float32 SIMD peak of `threads` threads running at once, summed (GFLOP/s): what the cores
 * this process gets can compute together (less than threads × one core's when the machine is
 * shared).
 */
export async function peakOn(threads: number): Promise<number> {
  const peakModule = path.resolve(__dirname, "../dist/ops/simd/peak.js");
  return allAtOnce(threads, peakModule, "measureSimdPeakGflops", "0.02, 1", "0.3, 3");
}

/** What transformers measured for one setting: tokens/s and the greedy tokens, or why it did not run. */
export type TorchTiming = { prompt: number; decode: number; tokens: number[] } | string;

/**
 * transformers' own CPU generation (`generate_torch.py time`) of the checkpoint in `folder` on
 * the prompt in `promptFile`: `decode` greedy tokens on `threads` threads in `dtype`, best of
 * `repeats`. Prints a line with `label`.
 */
export function timeTransformers(
  label: string,
  p: {
    folder: string;
    promptFile: string;
    decode: number;
    threads: number;
    dtype: "float32" | "bfloat16";
    repeats: number;
  },
): TorchTiming {
  const r = generateTorch([
    "time",
    p.folder,
    p.promptFile,
    String(p.decode),
    "--threads",
    String(p.threads),
    "--dtype",
    p.dtype,
    "--repeats",
    String(p.repeats),
  ]);
  if (!r.ok) return r.why;
  const j = JSON.parse(r.out.split("\n").pop()!) as {
    prompt_tokens_per_s: number;
    decode_tokens_per_s: number;
    tokens: number[];
  };
  console.log(
    `  transformers ${label}: prompt ${j.prompt_tokens_per_s.toFixed(1)} tokens/s, decode ${j.decode_tokens_per_s.toFixed(1)} tokens/s (load ${load()})`,
  );
  return { prompt: j.prompt_tokens_per_s, decode: j.decode_tokens_per_s, tokens: j.tokens };
}

/**
 * The fastest transformers setting of a run for one metric (whatever its threads or dtype: the
 * setting a user would pick; on a small VM PyTorch's second thread can cost more than it gives).
 */
export function fastestTransformers(
  torch: Record<string, TorchTiming>,
  metric: "prompt" | "decode",
): { rate: number; label: string } {
  let best = { rate: NaN, label: "-" };
  for (const [label, t] of Object.entries(torch))
    if (typeof t !== "string" && !(t[metric] <= best.rate)) best = { rate: t[metric], label };
  return best;
}

/** How many leading tokens two generations share. */
export function sameLeadingTokens(a: number[], b: number[]): number {
  let n = 0;
  while (n < Math.min(a.length, b.length) && a[n] === b[n]) n++;
  return n;
}
