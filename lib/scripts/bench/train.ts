/**
 * Benchmark: one full training step (forward, loss, backward, gradient clipping, AdamW) of the
 * Table 1 model (2 layers, d_model 64, N 16, vocabulary 16) at batch 32 × 256 tokens and 8 × 1024,
 * with each engine of `mambaLossAndGrads` (plain TypeScript, WebAssembly SIMD, SIMD + worker
 * threads) and with a PyTorch CPU implementation of the same model and step
 * (`train_torch.py`: the mamba-minimal block with its sequential scan, and the same block with a
 * work-efficient parallel scan; 2 threads) when a Python with torch is found (`../bench-python.ts`).
 * "vs PyTorch" compares with the faster of the two PyTorch rows of the same shape.
 *
 * FLOPs per token are counted from the shapes (2 per multiply-add): the projections forward
 * (in_proj, x_proj, dt_proj, out_proj, head), times 3 for forward + backward (the backward of
 * y = xWᵀ costs two products of the same size), plus the conv and the scan (forward ≈ 7·E·N per
 * token, backward with recomputation ≈ 20·E·N). The same count divides every row's time, so the
 * GFLOP/s column compares the engines on the same work.
 *
 * Peak: the measured throughput of WebAssembly f32x4 multiply + add on one core
 * (`ops/simd/peak.ts`), times the cores a row uses (1 for typescript and simd; the thread count
 * for simd-threads and PyTorch). "% peak" is the row's GFLOP/s over that.
 *
 * "cores got": CPU seconds per wall second during the timed steps (process CPU time, all threads):
 * on a shared machine, the share of the cores this run actually had. "CPU s": step s × cores got,
 * the CPU time one step used, which depends less on what else the machine runs.
 *
 * Run: `npm run bench -- train` (after `npm run build`). Steps are timed after warm-up steps (3;
 * the TypeScript engine: one small one), best of 5 (`STEP_REPEATS`; the TypeScript engine: 1);
 * PyTorch best of 5 after one warm-up step. On a shared machine run it twice.
 */
import { spawnSync } from "node:child_process";
import { availableParallelism } from "node:os";
import * as path from "node:path";
import { Rng } from "../../dist/rng";
import { torchLine, torchPython } from "../bench-python";
import { initMamba } from "../../dist/mamba/init";
import { type TrainEngine, mambaLossAndGrads } from "../../dist/mamba/grads";
import { STEP_REPEATS, timeTrainingStep } from "../bench-train-step";
import { createTrainPool } from "../../dist/ops/simd/threads";
import { measureSimdPeakGflops } from "../../dist/ops/simd/peak";

const CONFIG = { vocab_size: 16, hidden_size: 64, num_hidden_layers: 2, state_size: 16 };
const SHAPES: [number, number][] = [
  [32, 256],
  [8, 1024],
];

function flopsPerToken(): number {
  const d = 64;
  const E = 128;
  const N = 16;
  const R = 4;
  const V = 16;
  const k = 4;
  const proj = 2 * (d * 2 * E + E * (R + 2 * N) + R * E + E * d);
  const perLayer = 3 * proj + 3 * 2 * E * k + 7 * E * N + 20 * E * N;
  return CONFIG.num_hidden_layers * perLayer + 3 * 2 * d * V;
}

interface TorchResult {
  torch: string;
  threads: number;
  parallel_scan_max_grad_diff: number;
  results: {
    scan: string;
    b: number;
    l: number;
    step_s: number;
    tokens_per_s: number;
    cpu_s: number;
  }[];
}

/** Runs train_torch.py with the benchmarks' Python; the reason when it cannot. */
function runTorch(): TorchResult | string {
  const script = path.resolve(__dirname, "../../scripts/bench/train_torch.py");
  const py = torchPython();
  if ("why" in py) return py.why;
  const run = spawnSync(py.python, [script, "--threads", "2", "--repeats", String(STEP_REPEATS)], {
    encoding: "utf8",
    maxBuffer: 1 << 20,
  });
  if (run.status !== 0) return `${py.python} ${script} failed: ${run.stderr.slice(-500)}`;
  return JSON.parse(run.stdout.trim().split("\n").pop()!) as TorchResult;
}

function main(): void {
  const threads = Math.min(availableParallelism(), 8);
  const fpt = flopsPerToken();
  const peakBefore = measureSimdPeakGflops();
  console.log(
    `Table 1 model (d_model 64, 2 layers, N 16, vocab 16), Node ${process.version}, ${availableParallelism()} cores.`,
  );
  console.log(
    `FLOPs per token of a training step (counted from the shapes): ${(fpt / 1e6).toFixed(2)} M`,
  );
  console.log(
    `Measured peak (WebAssembly f32x4 mul + add, one core): ${peakBefore.toFixed(1)} GFLOP/s\n`,
  );
  const torch = runTorch();
  const pool = createTrainPool({ threads });
  const rng = new Rng(1);
  const batch = (b: number, l: number) => ({
    shape: [b, l],
    data: Int32Array.from({ length: b * l }, () => rng.int(16)),
  });
  const rows: { shape: string; engine: string; s: number; cores: number; cpu: number }[] = [];
  for (const [b, l] of SHAPES) {
    const tokens = batch(b, l);
    for (const engine of ["typescript", "simd", "simd-threads"] as TrainEngine[]) {
      const model = initMamba(CONFIG, new Rng(0));
      // three warm-up steps for simd: a worker's first steps run up to 1.5× slower while V8
      // compiles its kernels' optimised code
      const { s, cpu } = timeTrainingStep(
        model.params,
        engine,
        pool,
        (options) => mambaLossAndGrads(model, tokens, options),
        () => mambaLossAndGrads(model, batch(2, 64)),
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
    if (typeof torch !== "string") {
      for (const r of torch.results.filter((x) => x.b === b && x.l === l))
        rows.push({
          shape: `${b} × ${l}`,
          engine: `pytorch ${r.scan}`,
          s: r.step_s,
          cores: torch.threads,
          cpu: r.cpu_s / r.step_s,
        });
    }
  }
  pool.close();
  // the peak again after the run: on a shared machine the better of the two is the closer to it
  const peak = Math.max(peakBefore, measureSimdPeakGflops());
  console.log(
    `Measured peak after the run: ${peak.toFixed(1)} GFLOP/s (the better of the two is used)\n`,
  );
  console.log(
    "batch × L    engine               threads  cores got   step s   CPU s   tokens/s   GFLOP/s   % peak   vs PyTorch   vs TypeScript",
  );
  for (const r of rows) {
    const [b, l] = r.shape.split(" × ").map(Number);
    const n = b * l;
    const gflops = (fpt * n) / r.s / 1e9;
    const ts = rows.find((x) => x.shape === r.shape && x.engine === "typescript")!;
    const pts = rows.filter((x) => x.shape === r.shape && x.engine.startsWith("pytorch"));
    const pt = pts.length ? pts.reduce((a, x) => (x.s < a.s ? x : a)) : undefined;
    console.log(
      [
        r.shape.padEnd(12),
        r.engine.padEnd(20),
        String(r.cores).padStart(7),
        r.cpu.toFixed(2).padStart(10),
        r.s.toFixed(3).padStart(8),
        (r.s * r.cpu).toFixed(2).padStart(7),
        Math.round(n / r.s)
          .toString()
          .padStart(10),
        gflops.toFixed(2).padStart(9),
        ((100 * gflops) / (peak * r.cores)).toFixed(1).padStart(8),
        (pt ? `${(pt.s / r.s).toFixed(2)}×` : "–").padStart(12),
        `${(ts.s / r.s).toFixed(2)}×`.padStart(15),
      ].join(" "),
    );
  }
  if (typeof torch === "string") console.log(`\nPyTorch row missing: ${torch}`);
  else
    console.log(
      `\n${torchLine()}, ${torch.threads} threads (lib/scripts/bench/train_torch.py; sequential: mamba-minimal's scan, parallel: the work-efficient parallel scan): best of ${STEP_REPEATS} steps after a warm-up; vs PyTorch: against the faster of the two. The two PyTorch models' gradients (float64, one small batch) differ by at most a relative ${torch.parallel_scan_max_grad_diff.toExponential(1)}.`,
    );
}

main();
