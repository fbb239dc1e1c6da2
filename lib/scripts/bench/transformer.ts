/**
 * Benchmark: one full training step (forward, loss, backward, gradient clipping, AdamW) of the
 * Transformer++ baseline at the parameter count of the Table 1 Mamba (2 layers, d_model 64,
 * vocabulary 16, tied head; 4 heads of 16; the MLP width chosen to match Mamba's parameter count),
 * at 8192 tokens per batch for L = 256, 1024 and 2048, with each engine of
 * `transformerLossAndGrads` (plain TypeScript, WebAssembly SIMD, SIMD + worker threads) and, in the
 * same run, PyTorch CPU (`transformer_torch.py`, 2 threads): a compact LLaMA on
 * `F.scaled_dot_product_attention` ("sdpa") and transformers' `LlamaForCausalLM` with SDPA
 * ("hf"), on 2 threads, and the compact one on 1 thread ("×1"). "vs PyTorch" divides the faster
 * 2-thread PyTorch row's time by the row's; "CPU vs PyTorch ×1" divides 1-thread SDPA's CPU
 * seconds per step by the row's: the work each does, which a shared machine disturbs less than
 * wall time (a thread waiting for a core uses no CPU time; PyTorch's 2-thread rows spin while
 * they wait for each other, so their CPU time is no such measure).
 *
 * Which Python: `../bench-python.ts` ($TORCH_PYTHON when set, e.g. a venv's bin/python with
 * torch 2.x); the table says which PyTorch ran and where it was imported from.
 *
 * FLOPs per token are counted from the shapes (2 per multiply-add): the projections and the head
 * forward, times 3 for forward + backward; attention's products, QKᵀ and PV forward and four of
 * the same size backward, each 2·hd·(l + 1)/2 per head on average over the causal positions. The
 * softmax, norms, RoPE and optimiser are not counted. The same count divides every row's time.
 *
 * Peak: the measured throughput of WebAssembly f32x4 multiply + add on one core
 * (`ops/simd/peak.ts`), times the cores a row uses (1 for typescript and simd; the thread count
 * for simd-threads and PyTorch). "% peak" is the row's GFLOP/s over that (PyTorch's kernels use
 * the CPU's wider fused multiply-adds, so its rows could pass 100%).
 *
 * "cores got": CPU seconds per wall second during the timed steps (all threads): on a shared
 * machine, the share of the cores this run actually had; the load average is printed before and
 * after.
 *
 * Run: `npm run bench -- transformer` (after `npm run build`). Steps are timed after warm-up
 * steps (3; the TypeScript engine: one small one), best of 5 (`STEP_REPEATS`; the TypeScript
 * engine: 1); PyTorch best of 5 after one warm-up step. On a shared machine run it twice.
 */
import { spawnSync } from "node:child_process";
import { availableParallelism, loadavg } from "node:os";
import * as path from "node:path";
import { Rng } from "../../dist/rng";
import { mambaConfig, mambaParamCount } from "../../dist/mamba/config";
import type { TrainEngine } from "../../dist/mamba/grads";
import {
  type LlamaConfig,
  llamaConfig,
  transformerParamCount,
} from "../../dist/transformer/config";
import { initTransformer } from "../../dist/transformer/init";
import { transformerLossAndGrads } from "../../dist/transformer/grads";
import { createTrainPool } from "../../dist/ops/simd/threads";
import { measureSimdPeakGflops } from "../../dist/ops/simd/peak";
import { torchPython } from "../bench-python";
import { STEP_REPEATS, timeTrainingStep } from "../bench-train-step";

const VOCAB = 16;
const D_MODEL = 64;
const LAYERS = 2;
const SHAPES: [number, number][] = [
  [32, 256],
  [8, 1024],
  [4, 2048],
];

function configWith(intermediate: number): LlamaConfig {
  return llamaConfig({
    vocab_size: VOCAB,
    hidden_size: D_MODEL,
    intermediate_size: intermediate,
    num_hidden_layers: LAYERS,
    num_attention_heads: 4,
    num_key_value_heads: 4,
    tie_word_embeddings: true,
  });
}

/** The Transformer++ whose MLP width (a multiple of 8) best matches the Table 1 Mamba's size. */
function matchedConfig(target: number): LlamaConfig {
  let best = configWith(8);
  for (let inter = 16; inter <= 16 * D_MODEL; inter += 8) {
    const c = configWith(inter);
    const gap = (x: LlamaConfig) => Math.abs(transformerParamCount(x) - target);
    if (gap(c) < gap(best)) best = c;
  }
  return best;
}

/** FLOPs per token of a training step at length l (module comment). */
function flopsPerToken(c: LlamaConfig, l: number): number {
  const d = c.hidden_size;
  const qw = c.num_attention_heads * c.head_dim;
  const kw = c.num_key_value_heads * c.head_dim;
  const proj = 2 * (d * (qw + 2 * kw) + qw * d + 3 * d * c.intermediate_size);
  const attention = 6 * c.num_attention_heads * c.head_dim * (l + 1);
  return c.num_hidden_layers * (3 * proj + attention) + 3 * 2 * d * c.vocab_size;
}

interface TorchResult {
  torch: string;
  torch_file: string;
  transformers: string | null;
  threads: number;
  results: { impl: string; b: number; l: number; step_s: number; cpu_s: number }[];
}

/**
 * Runs transformer_torch.py at one batch shape with the benchmarks' Python; the reason when
 * it cannot.
 */
function runTorch(
  c: LlamaConfig,
  b: number,
  l: number,
  threads: number,
  impls: string,
): TorchResult | string {
  const script = path.resolve(__dirname, "../../scripts/bench/transformer_torch.py");
  const found = torchPython();
  if ("why" in found) return found.why;
  const py = found.python;
  const sizes = {
    vocab_size: c.vocab_size,
    hidden_size: c.hidden_size,
    intermediate_size: c.intermediate_size,
    num_hidden_layers: c.num_hidden_layers,
    num_attention_heads: c.num_attention_heads,
    num_key_value_heads: c.num_key_value_heads,
    head_dim: c.head_dim,
    rms_norm_eps: c.rms_norm_eps,
    rope_theta: c.rope_theta,
  };
  const run = spawnSync(
    py,
    [
      script,
      ...["--threads", String(threads), "--impls", impls, "--repeats", String(STEP_REPEATS)],
      ...["--config", JSON.stringify(sizes), "--shapes", `${b}x${l}`],
    ],
    { encoding: "utf8", maxBuffer: 1 << 20 },
  );
  if (run.status !== 0) return `${py} ${script} failed: ${run.stderr.slice(-500)}`;
  return JSON.parse(run.stdout.trim().split("\n").pop()!) as TorchResult;
}

const load = (): string =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(", ");

function main(): void {
  const mamba = mambaConfig({
    vocab_size: VOCAB,
    hidden_size: D_MODEL,
    num_hidden_layers: LAYERS,
    state_size: 16,
  });
  const c = matchedConfig(mambaParamCount(mamba));
  const threads = Math.min(availableParallelism(), 8);
  console.log(
    `Transformer++: ${LAYERS} layers, d_model ${D_MODEL}, ${c.num_attention_heads} heads of ${c.head_dim}, MLP ${c.intermediate_size}, vocab ${VOCAB}, tied: ${transformerParamCount(c)} parameters (Table 1 Mamba: ${mambaParamCount(mamba)}).`,
  );
  console.log(
    `Node ${process.version}, ${availableParallelism()} cores; load average (1, 5, 15 min) before: ${load()}`,
  );
  const peakBefore = measureSimdPeakGflops();
  console.log(
    `Measured peak (WebAssembly f32x4 mul + add, one core): ${peakBefore.toFixed(1)} GFLOP/s\n`,
  );
  let torch: TorchResult | string = "not run";
  const pool = createTrainPool({ threads });
  const rng = new Rng(1);
  const batch = (b: number, l: number) => ({
    shape: [b, l],
    data: Int32Array.from({ length: b * l }, () => rng.int(VOCAB)),
  });
  const rows: { shape: string; engine: string; s: number; cores: number; cpu: number }[] = [];
  for (const [b, l] of SHAPES) {
    // PyTorch first, then the engines at the same shape: on a shared machine, under the same load
    torch = runTorch(c, b, l, 2, "sdpa,hf");
    const torchOne = typeof torch === "string" ? torch : runTorch(c, b, l, 1, "sdpa");
    const tokens = batch(b, l);
    for (const engine of ["typescript", "simd", "simd-threads"] as TrainEngine[]) {
      const model = initTransformer(c, new Rng(0));
      // three warm-up steps for simd: a worker's first steps run slower while it compiles
      const { s, cpu } = timeTrainingStep(
        model.params,
        engine,
        pool,
        (options) => transformerLossAndGrads(model, tokens, options),
        () => transformerLossAndGrads(model, batch(2, 64)),
        3,
      );
      rows.push({
        shape: `${b} × ${l}`,
        engine,
        s,
        cores: engine === "simd-threads" ? pool.threads : 1,
        cpu,
      });
    }
    for (const t of [torch, torchOne]) {
      if (typeof t === "string") continue;
      for (const r of t.results) {
        rows.push({
          shape: `${b} × ${l}`,
          engine: `pytorch ${r.impl}${t.threads === 1 ? " ×1" : ""}`,
          s: r.step_s,
          cores: t.threads,
          cpu: r.cpu_s / r.step_s,
        });
      }
    }
  }
  pool.close();
  const peak = Math.max(peakBefore, measureSimdPeakGflops());
  console.log(
    `Measured peak after the run: ${peak.toFixed(1)} GFLOP/s (the better of the two is used); load average after: ${load()}\n`,
  );
  console.log(
    "batch × L    engine            threads  cores got   step s   CPU s   tokens/s   GFLOP/s   % peak   vs PyTorch   CPU vs PyTorch ×1   vs TypeScript",
  );
  for (const r of rows) {
    const [b, l] = r.shape.split(" × ").map(Number);
    const n = b * l;
    const gflops = (flopsPerToken(c, l) * n) / r.s / 1e9;
    const ts = rows.find((x) => x.shape === r.shape && x.engine === "typescript")!;
    const torchRows = rows.filter(
      (x) => x.shape === r.shape && x.engine.startsWith("pytorch") && x.cores > 1,
    );
    const pt = torchRows.length > 0 ? Math.min(...torchRows.map((x) => x.s)) : null;
    const one = rows.find((x) => x.shape === r.shape && x.engine === "pytorch sdpa ×1");
    const ptCpu = one ? one.s * one.cpu : null;
    console.log(
      [
        r.shape.padEnd(12),
        r.engine.padEnd(17),
        String(r.cores).padStart(7),
        r.cpu.toFixed(2).padStart(10),
        r.s.toFixed(3).padStart(8),
        (r.s * r.cpu).toFixed(2).padStart(7),
        Math.round(n / r.s)
          .toString()
          .padStart(10),
        gflops.toFixed(2).padStart(9),
        ((100 * gflops) / (peak * r.cores)).toFixed(1).padStart(8),
        (pt ? `${(pt / r.s).toFixed(2)}×` : "–").padStart(12),
        (ptCpu ? `${(ptCpu / (r.s * r.cpu)).toFixed(2)}×` : "–").padStart(19),
        `${(ts.s / r.s).toFixed(2)}×`.padStart(15),
      ].join(" "),
    );
  }
  if (typeof torch === "string") console.log(`\nPyTorch rows missing: ${torch}`);
  else
    console.log(
      `\nPyTorch ${torch.torch} (imported from ${torch.torch_file}), transformers ${torch.transformers ?? "not installed"} (lib/scripts/bench/transformer_torch.py): best of ${STEP_REPEATS} steps after a warm-up, 2 threads (×1: 1 thread); "vs PyTorch": time against the faster 2-thread PyTorch row; "CPU vs PyTorch ×1": CPU seconds per step against 1-thread SDPA's.`,
    );
}

main();
