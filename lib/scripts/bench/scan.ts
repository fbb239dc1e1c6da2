/**
 * Benchmark: the selective scan, every way the course computes it, measured in one run.
 *
 * For (b, d, l, n) = (1, 256, 1024, 16), (2, 512, 4096, 16) and (1, 1024, 16384, 16):
 * - sequential: lib's `selectiveScan` (lesson 06), plain TypeScript, float64 — the baseline;
 * - fast CPU: `selectiveScanFast` with WebAssembly SIMD (and its typed-array "js" engine);
 * - gpu.js naive and chunked (`createGpuSelectiveScan`) on every backend available here
 *   (headlessgl needs the `gl` module and an X display: run under `xvfb-run -a`);
 * - PyTorch's CPU reference scan (the `selective_scan_ref` algorithm of the Mamba repository,
 *   inline below) when the benchmarks' Python has torch (`../bench-python.ts`); it also checks our outputs on the same data.
 *
 * It prints times, ratios to the sequential baseline and to PyTorch, bytes each gpu.js variant
 * writes and its largest intermediate, and an estimate of the machine's limit for this work:
 * b·d·l·n exps at the measured SIMD exp rate, or the scan's minimal memory traffic at the
 * measured bandwidth, whichever is slower (one core). Runs predicted to take longer than the
 * budget (SCAN_BENCH_BUDGET_S, default 60 s, extrapolated from the previous size) are skipped,
 * and so are naive runs that would hold more than 2 GB of expanded state; each skip says why.
 *
 * Run: `xvfb-run -a npm run bench -- scan` (after `npm run build`).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { bestOfSeconds } from "../../dist/timing";
import { type SelectiveScanArgs, selectiveScan } from "../../dist/selective/scan";
import { selectiveScanFast } from "../../dist/selective-fast/fast-scan";
import {
  measureExpThroughput,
  measureMemoryBandwidth,
  selectiveScanLowerBound,
} from "../../dist/selective-fast/limits";
import { type GpuBackend, gpuBackends } from "../../dist/gpu/backends";
import { createGpuSelectiveScan, gpuScanTraffic } from "../../dist/gpu/selective-scan";
import {
  type ScanSize,
  formatBytes,
  formatSeconds,
  relDiff,
  saveScanInputs,
  scanInputs,
} from "../bench-scan-common";

type Size = ScanSize;

const SIZES: Size[] = [
  [1, 256, 1024, 16],
  [2, 512, 4096, 16],
  [1, 1024, 16384, 16],
];
import { torchPython } from "../bench-python";

/** The benchmarks' Python with torch (`../bench-python.ts`), or "" when there is none. */
const FOUND = torchPython();
const PYTHON = "why" in FOUND ? "" : FOUND.python;
const NAIVE_MEMORY_LIMIT = 2e9;

/** Mamba's selective_scan_ref (without the variants we do not use), timed; reads our inputs. */
const TORCH_SCRIPT = `
import sys, time, torch
import torch.nn.functional as F

def selective_scan_ref(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False):
    dtype_in = u.dtype
    u = u.float(); delta = delta.float()
    if delta_bias is not None:
        delta = delta + delta_bias[..., None].float()
    if delta_softplus:
        delta = F.softplus(delta)
    batch, dim, dstate = u.shape[0], A.shape[0], A.shape[1]
    B = B.float(); C = C.float()
    x = A.new_zeros((batch, dim, dstate))
    ys = []
    deltaA = torch.exp(torch.einsum('bdl,dn->bdln', delta, A))
    deltaB_u = torch.einsum('bdl,bnl,bdl->bdln', delta, B, u)
    last_state = None
    for i in range(u.shape[2]):
        x = deltaA[:, :, i] * x + deltaB_u[:, :, i]
        y = torch.einsum('bdn,bn->bd', x, C[:, :, i])
        if i == u.shape[2] - 1:
            last_state = x
        ys.append(y)
    y = torch.stack(ys, dim=2)
    out = y if D is None else y + u * D[:, None]
    if z is not None:
        out = out * F.silu(z)
    return out.to(dtype=dtype_in), last_state

folder = sys.argv[1]
b, d, l, n = map(int, sys.argv[2:6])
def load(name, shape):
    with open(folder + '/' + name, 'rb') as f:
        return torch.frombuffer(bytearray(f.read()), dtype=torch.float32).reshape(shape)
u = load('u', (b, d, l)); delta = load('delta', (b, d, l)); z = load('z', (b, d, l))
A = load('A', (d, n)); B = load('B', (b, n, l)); C = load('C', (b, n, l))
D = load('D', (d,)); bias = load('bias', (d,))
with torch.no_grad():
    t0 = time.perf_counter()
    out, _ = selective_scan_ref(u, delta, A, B, C, D, z, bias, True)
    seconds = time.perf_counter() - t0
with open(folder + '/out', 'wb') as f:
    f.write(out.contiguous().numpy().tobytes())
print(seconds, torch.get_num_threads(), torch.__version__)
`;

/** The best of `repeats` runs of `fn`, in seconds (lib's one best-of timer). */
const seconds = (fn: () => void, repeats: number): number => bestOfSeconds(repeats, fn);

const fmtS = formatSeconds;
const fmtB = formatBytes;

interface Row {
  method: string;
  backend: string;
  seconds: number | null;
  note: string;
  written?: number;
  largest?: number;
  err?: number;
}

function torchAvailable(): string | null {
  return "why" in FOUND ? null : FOUND.torch;
}

function runTorch(
  args: SelectiveScanArgs,
  size: Size,
  timeoutS: number,
): { seconds: number; threads: string; out: Float32Array } | string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "scan-bench-"));
  try {
    saveScanInputs(dir, args);
    const r = spawnSync(PYTHON, ["-c", TORCH_SCRIPT, dir, ...size.map(String)], {
      encoding: "utf8",
      timeout: timeoutS * 1000,
      maxBuffer: 1 << 20,
    });
    if (r.error) return `did not finish within ${timeoutS} s`;
    if (r.status !== 0) return `python failed: ${r.stderr.trim().split("\n").pop()}`;
    const [sec, threads] = r.stdout.trim().split(/\s+/);
    const bytes = readFileSync(path.join(dir, "out"));
    const out = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4).slice();
    return { seconds: Number(sec), threads, out };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function main(): void {
  const budget = Number(process.env.SCAN_BENCH_BUDGET_S ?? 60);
  const cpu = os.cpus()[0]?.model ?? "unknown CPU";
  console.log(
    `Selective scan benchmark. Node ${process.version}, ${cpu}, ${os.cpus().length} cores; load average ${os.loadavg()[0].toFixed(1)}.`,
  );
  console.log(
    "All lib paths here run on one core (gpu.js headlessgl runs on whatever GL driver serves it).",
  );
  const avail = gpuBackends();
  console.log("gpu.js backends:");
  for (const b of avail)
    console.log(`  ${b.backend.padEnd(10)} ${b.available ? "yes" : "no "}  ${b.reason}`);
  const gpuModes = avail
    .filter((b) => b.available && b.backend !== "webgpu")
    .map((b) => b.backend as Exclude<GpuBackend, "webgpu">);
  const torch = torchAvailable();
  console.log(
    torch
      ? `PyTorch ${torch} at ${PYTHON}: the reference scan runs.`
      : `PyTorch: its column is skipped (${"why" in FOUND ? FOUND.why : ""})`,
  );

  const expRate = measureExpThroughput();
  const bandwidth = measureMemoryBandwidth();
  console.log(
    `Measured limits (one core): ${(expRate / 1e9).toFixed(2)} G exp/s (the fast scan's SIMD exp, in cache), ` +
      `${(bandwidth / 1e9).toFixed(1)} GB/s streaming reads.`,
  );
  console.log(`Budget per run: ${budget} s (SCAN_BENCH_BUDGET_S); longer runs are skipped.\n`);

  // seconds per unit of work of each method at the previous size, for the skip predictions
  const rate = new Map<string, number>();
  const summary: string[] = [];
  for (const size of SIZES) {
    const [b, d, l, n] = size;
    const work = b * d * l * n;
    const args = scanInputs(size);
    const bound = selectiveScanLowerBound(
      { batch: b, dim: d, length: l, dstate: n },
      { expsPerSecond: expRate, bytesPerSecond: bandwidth },
    );
    console.log(
      `=== (b, d, l, n) = (${size.join(", ")}): ${(work / 1e6).toFixed(1)} M state updates ===`,
    );
    console.log(
      `limit: ${fmtS(bound.seconds)} (${(bound.exps / 1e6).toFixed(0)} M exps: ${fmtS(bound.expSeconds)}; ` +
        `${fmtB(bound.bytes)} of unavoidable traffic: ${fmtS(bound.memorySeconds)})`,
    );
    const rows: Row[] = [];
    // Predictions extrapolate the previous size's seconds per unit of work (b·d·l·n, times
    // log2 l for the naive scan's passes), with a margin of 1.5 for effects that grow faster.
    const predicted = (key: string, units = work): number | null => {
      const r = rate.get(key);
      return r === undefined ? null : 1.5 * r * units;
    };
    const tooLong = (key: string, units = work): string | null => {
      const p = predicted(key, units);
      return p !== null && p > budget
        ? `skipped: predicted ${p.toFixed(0)} s > budget ${budget} s`
        : null;
    };

    // the fast path first: the reference output of the other columns' error checks
    selectiveScanFast(args); // warm-up
    const fastSec = seconds(() => selectiveScanFast(args), 3);
    const fastOut = selectiveScanFast(args).out.data;
    rows.push({
      method: "fast CPU",
      backend: "wasm-simd",
      seconds: fastSec,
      note: `${((bound.seconds / fastSec) * 100).toFixed(0)}% of the limit`,
      err: 0,
    });

    let seqSec: number | null = null;
    const skipSeq = tooLong("sequential");
    if (skipSeq)
      rows.push({ method: "sequential", backend: "TypeScript f64", seconds: null, note: skipSeq });
    else {
      let out: Float32Array | Float64Array = new Float32Array(0);
      seqSec = seconds(() => {
        out = selectiveScan(args).out.data;
      }, 1);
      rate.set("sequential", seqSec / work);
      rows.push({
        method: "sequential",
        backend: "TypeScript f64",
        seconds: seqSec,
        note: "baseline",
        err: relDiff(out, fastOut),
      });
    }

    const skipJs = tooLong("fast-js");
    if (skipJs) rows.push({ method: "fast CPU", backend: "js loops", seconds: null, note: skipJs });
    else {
      let out = new Float32Array(0);
      const s = seconds(() => {
        out = selectiveScanFast(args, { engine: "js" }).out.data;
      }, 1);
      rate.set("fast-js", s / work);
      rows.push({
        method: "fast CPU",
        backend: "js loops",
        seconds: s,
        note: "",
        err: relDiff(out, fastOut),
      });
    }

    let torchSec: number | null = null;
    if (torch) {
      const skip = tooLong("torch");
      if (skip)
        rows.push({ method: "PyTorch ref", backend: "torch CPU", seconds: null, note: skip });
      else {
        const r = runTorch(args, size, Math.max(budget * 3, 120));
        if (typeof r === "string")
          rows.push({ method: "PyTorch ref", backend: "torch CPU", seconds: null, note: r });
        else {
          torchSec = r.seconds;
          rate.set("torch", r.seconds / work);
          rows.push({
            method: "PyTorch ref",
            backend: "torch CPU",
            seconds: r.seconds,
            note: `${r.threads} thread(s); materialises ${fmtB(2 * 4 * work)}`,
            err: relDiff(r.out, fastOut),
          });
        }
      }
    }

    const gpuTimes: Record<string, number> = {};
    for (const mode of gpuModes) {
      for (const variant of ["naive", "chunked"] as const) {
        const key = `${variant}-${mode}`;
        const plan = gpuScanTraffic(
          { batch: b, dim: d, length: l, dstate: n },
          { variant, chunkSize: 16, backend: mode },
        ).traffic;
        const label = `gpu.js ${variant}`;
        const peak = 4 * plan.largestIntermediateBytes;
        if (variant === "naive" && peak > NAIVE_MEMORY_LIMIT) {
          rows.push({
            method: label,
            backend: mode,
            seconds: null,
            note: `skipped: would hold ~${fmtB(peak)} of expanded state`,
          });
          continue;
        }
        const units = variant === "naive" ? work * Math.log2(l) : work;
        const skip = tooLong(key, units);
        if (skip) {
          rows.push({ method: label, backend: mode, seconds: null, note: skip });
          continue;
        }
        const scanner = createGpuSelectiveScan({
          mode,
          variant,
          ...(variant === "chunked" ? { chunkSize: 16 } : {}),
        });
        try {
          const t0 = performance.now();
          const first = scanner.run(args);
          const firstSec = (performance.now() - t0) / 1000;
          // long runs are timed once (compiling is then a small part of the first run)
          const once = firstSec > 10;
          const s = once ? firstSec : seconds(() => scanner.run(args), 2);
          rate.set(key, s / units);
          gpuTimes[key] = s;
          rows.push({
            method: label,
            backend: first.backend,
            seconds: s,
            note: once ? "one run, including compiling" : `first run (compiles) ${fmtS(firstSec)}`,
            written: plan.bytesWritten,
            largest: plan.largestIntermediateBytes,
            err: relDiff(first.out.data, fastOut),
          });
        } catch (e) {
          rows.push({
            method: label,
            backend: mode,
            seconds: null,
            note: `failed: ${(e as Error).message.split("\n")[0]}`,
          });
        } finally {
          scanner.destroy();
        }
      }
    }

    const header = [
      "method",
      "backend",
      "time",
      "÷ sequential",
      "÷ PyTorch",
      "writes",
      "largest tensor",
      "max rel err",
      "note",
    ];
    const widths = [13, 15, 10, 13, 11, 10, 15, 12, 0];
    const line = (cells: string[]): string =>
      cells
        .map((c, i) => (i < 2 ? c.padEnd(widths[i]) : i < 8 ? c.padStart(widths[i]) : `  ${c}`))
        .join(" ");
    console.log(line(header));
    for (const r of rows) {
      const sp = (base: number | null): string =>
        r.seconds === null || base === null ? "-" : `${(base / r.seconds).toFixed(1)}×`;
      console.log(
        line([
          r.method,
          r.backend,
          r.seconds === null ? "-" : fmtS(r.seconds),
          sp(seqSec),
          sp(torchSec),
          r.written === undefined ? "-" : fmtB(r.written),
          r.largest === undefined ? "-" : fmtB(r.largest),
          r.err === undefined ? "-" : r.err.toExponential(1),
          r.note,
        ]),
      );
    }
    console.log(
      "(÷ columns: how many times faster than that baseline; writes: bytes the gpu.js kernels write.)\n",
    );
    const hg = gpuTimes["naive-headlessgl"] && gpuTimes["chunked-headlessgl"];
    summary.push(
      `(${size.join(", ")}): ` +
        [
          hg
            ? `chunked ${(gpuTimes["naive-headlessgl"] / gpuTimes["chunked-headlessgl"]).toFixed(1)}× faster than naive on headlessgl (target ≥ 3×)`
            : "headlessgl naive/chunked: not both measured",
          torchSec
            ? `fast CPU ${(torchSec / fastSec).toFixed(0)}× faster than PyTorch (target ≥ 10×)`
            : "PyTorch: not measured",
          `fast CPU at ${(fastSec / bound.seconds).toFixed(2)}× the limit (target ≤ 3×)`,
        ].join("; "),
    );
  }
  console.log("Targets:");
  for (const s of summary) console.log(`  ${s}`);
}

if (require.main === module) main();
