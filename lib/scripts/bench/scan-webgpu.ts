/**
 * Benchmark: the gpu.js selective scans on a real GPU through gpu.js's WebGPU backend, against
 * PyTorch CUDA running the `selective_scan_ref` algorithm on the same inputs, and against the
 * HBM limit of an ideal fused kernel. Written for the lent NVIDIA H200 (lib/gpu-run/ stages and
 * runs it there: `node lib/gpu-run/stage.mjs`, then `bash .gpurun/device.sh` on the machine), but
 * it runs wherever Dawn finds a WebGPU adapter and python3 has torch with CUDA.
 *
 * One run:
 * 1. smoke test: both variants on webgpu against lib's float64 `selectiveScan` on small cases
 *    (gate, D, grouped B/C, last state, no softplus, l not a multiple of T);
 * 2. for (b, d, l, n) in the CPU benchmark's sizes (1, 256, 1024, 16), (2, 512, 4096, 16),
 *    (1, 1024, 16384, 16) plus (8, 2048, 4096, 16): the same seeded inputs as the CPU benchmark
 *    (`randomSelectiveScanArgs(new Rng(7 + l))`), written to files that PyTorch reads;
 *    gpu.js naive and chunked on webgpu (best of 3 after a compiling run; each run uploads the
 *    inputs and reads out back, as every gpu.js call does); PyTorch CUDA's reference scan (inputs
 *    already on the GPU; CUDA events); the CPU reference (`selectiveScanFast`, and float64
 *    `selectiveScan` up to 2^26 state updates) for the error columns;
 * 3. the HBM limit: bytes an ideal fused kernel must move (u, Δ, z, B, C read once, out written
 *    once: 4·(4·b·d·l + 2·b·n·l)) at the device-to-device copy bandwidth PyTorch measures.
 *
 * Results: SCAN_WEBGPU_OUT (default .bench/scan-webgpu) gets results.json and table.txt, updated
 * after every measurement. Env: SCAN_WEBGPU_SIZES="b,d,l,n;..." to change the sizes,
 * TORCH_PYTHON (default python3), SCAN_WEBGPU_TORCH=0 to skip PyTorch, SCAN_WEBGPU_MODES
 * (default "webgpu") to time other gpu.js backends with the same code (e.g. "headlessgl" under
 * `xvfb-run -a`: Mesa llvmpipe on a machine without a GPU).
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Rng } from "../../dist/rng";
import type { Tensor } from "../../dist/tensor";
import { type SelectiveScanArgs, selectiveScan } from "../../dist/selective/scan";
import { selectiveScanFast } from "../../dist/selective-fast/fast-scan";
import { selectiveScanLowerBound } from "../../dist/selective-fast/limits";
import { randomSelectiveScanArgs } from "../../dist/scan/random-args";
import {
  type ScanSize,
  formatSeconds,
  relDiff,
  saveScanInputs,
  scanInputs,
} from "../bench-scan-common";
import {
  ASYNC_GPU_MODES,
  type AsyncGpuMode,
  createGpuSelectiveScanAsync,
} from "../../dist/gpu/selective-scan-async";
import { assertOneOf } from "../../dist/validate";
import type { GpuScanVariant } from "../../dist/gpu/selective-scan";
import { installWebGpu, releaseWebGpu, takeUncapturedWebGpuErrors } from "../../dist/gpu/webgpu";

type Size = ScanSize;

const DEFAULT_SIZES: Size[] = [
  [1, 256, 1024, 16],
  [2, 512, 4096, 16],
  [1, 1024, 16384, 16],
  [8, 2048, 4096, 16],
];
const F64_REFERENCE_LIMIT = 2 ** 26;
const SMOKE_TOLERANCE = 1e-4;

const fmtS = formatSeconds;

interface GpuRow {
  variant: GpuScanVariant;
  backend: string;
  seconds: number | null;
  firstSeconds?: number;
  relErrVsCpu?: number;
  bytesWritten?: number;
  largestIntermediateBytes?: number;
  note: string;
}

interface SizeResult {
  size: Size;
  stateUpdates: number;
  idealBytes: number;
  hbmLimitSeconds: number | null;
  gpujs: GpuRow[];
  torch: {
    seconds: number | null;
    transferSeconds?: number;
    relErrVsCpu?: number;
    note: string;
  };
  cpuReference: { fastSeconds: number; relErrF64?: number };
}

interface Results {
  date: string;
  node: string;
  host: { cpu: string; cores: number; platform: string };
  webgpu: { adapter: string; error?: string; maxStorageBufferBindingSize?: number };
  torch: Record<string, unknown> | null;
  hbmBytesPerSecond: number | null;
  smoke: {
    mode: AsyncGpuMode;
    case: string;
    variant: GpuScanVariant;
    relErr: number | null;
    ok: boolean;
    note: string;
  }[];
  sizes: SizeResult[];
}

function parseSizes(text: string | undefined): Size[] {
  if (!text) return DEFAULT_SIZES;
  return text.split(";").map((s) => {
    const v = s.split(",").map(Number);
    if (v.length !== 4 || v.some((x) => !Number.isInteger(x) || x < 1)) {
      throw new Error(`scan-webgpu: SCAN_WEBGPU_SIZES: expected "b,d,l,n;...", got "${s}"`);
    }
    return v as Size;
  });
}

/** Runs lib/gpu-run/torch_scan.py; its last stdout line is JSON. */
function torchCall(python: string, script: string, args: string[], timeoutS: number): unknown {
  const r = spawnSync(python, [script, ...args], {
    encoding: "utf8",
    timeout: timeoutS * 1000,
    maxBuffer: 1 << 24,
  });
  if (r.error) throw new Error(`torch_scan.py ${args[0]}: ${r.error.message}`);
  if (r.status !== 0) {
    throw new Error(
      `torch_scan.py ${args[0]} failed: ${r.stderr.trim().split("\n").slice(-3).join(" | ")}`,
    );
  }
  const lines = r.stdout.trim().split("\n");
  return JSON.parse(lines[lines.length - 1]);
}

function smokeCases(): { name: string; args: SelectiveScanArgs }[] {
  const rng = new Rng(2026);
  const base = (b: number, d: number, l: number, n: number): SelectiveScanArgs =>
    randomSelectiveScanArgs(rng, { batch: b, dim: d, length: l, dstate: n });
  const cases: { name: string; args: SelectiveScanArgs }[] = [];
  const a1 = base(2, 8, 37, 16);
  cases.push({
    name: "(2, 8, 37, 16) gate, D, last state",
    args: { ...a1, returnLastState: true },
  });
  const a2 = base(1, 6, 64, 4);
  cases.push({
    name: "(1, 6, 64, 4) no z, no D, no softplus",
    args: {
      u: a2.u,
      delta: { shape: a2.delta.shape, data: a2.delta.data.map((x) => 0.05 + 0.1 * Math.abs(x)) },
      A: a2.A,
      B: a2.B,
      C: a2.C,
    },
  });
  const a3 = base(2, 4, 50, 3);
  const grouped = (t: Tensor): Tensor => {
    // (b, n, l) -> (b, 2, n, l): group 1 is the same values scaled, so groups differ
    const [b, n, l] = t.shape;
    const data = new Float32Array(b * 2 * n * l);
    for (let i = 0; i < b; i++)
      for (let g = 0; g < 2; g++)
        for (let j = 0; j < n * l; j++)
          data[(i * 2 + g) * n * l + j] = t.data[i * n * l + j] * (1 + g);
    return { shape: [b, 2, n, l], data };
  };
  cases.push({
    name: "(2, 4, 50, 3) grouped B, C (g = 2), last state",
    args: { ...a3, B: grouped(a3.B), C: grouped(a3.C), returnLastState: true },
  });
  return cases;
}

async function main(): Promise<void> {
  const outDir = process.env.SCAN_WEBGPU_OUT ?? path.join(".bench", "scan-webgpu");
  const inputsDir = path.join(os.tmpdir(), "scan-webgpu-inputs");
  mkdirSync(outDir, { recursive: true });
  mkdirSync(inputsDir, { recursive: true });
  const python = process.env.TORCH_PYTHON ?? "python3";
  const script = path.join(__dirname, "..", "..", "gpu-run", "torch_scan.py");
  const useTorch = process.env.SCAN_WEBGPU_TORCH !== "0";
  const sizes = parseSizes(process.env.SCAN_WEBGPU_SIZES);
  const modes = (process.env.SCAN_WEBGPU_MODES ?? "webgpu")
    .split(",")
    .map((m) => assertOneOf("scan-webgpu: SCAN_WEBGPU_MODES", m.trim(), ASYNC_GPU_MODES));
  const results: Results = {
    date: new Date().toISOString(),
    node: process.version,
    host: {
      cpu: os.cpus()[0]?.model ?? "unknown",
      cores: os.cpus().length,
      platform: `${os.platform()} ${os.release()}`,
    },
    webgpu: { adapter: "none" },
    torch: null,
    hbmBytesPerSecond: null,
    smoke: [],
    sizes: [],
  };
  const table: string[] = [];
  const say = (line: string): void => {
    console.log(line);
    table.push(line);
  };
  const flush = (): void => {
    writeFileSync(path.join(outDir, "results.json"), JSON.stringify(results, null, 1));
    writeFileSync(path.join(outDir, "table.txt"), table.join("\n") + "\n");
  };

  say(
    `Selective scan on WebGPU (gpu.js) vs PyTorch CUDA. ${results.date}, Node ${process.version}, ${results.host.cpu}.`,
  );
  let webgpuOk = false;
  if (modes.includes("webgpu"))
    try {
      const info = await installWebGpu();
      results.webgpu = {
        adapter: info.adapter,
        maxStorageBufferBindingSize: info.maxStorageBufferBindingSize,
      };
      webgpuOk = true;
      say(
        `WebGPU adapter: ${info.adapter} (max storage buffer ${info.maxStorageBufferBindingSize} bytes, ${info.maxStorageBuffersPerShaderStage} storage buffers per stage)`,
      );
    } catch (e) {
      results.webgpu = { adapter: "none", error: (e as Error).message };
      say(`WebGPU: not available: ${(e as Error).message}`);
    }
  if (useTorch) {
    try {
      results.torch = torchCall(python, script, ["info"], 300) as Record<string, unknown>;
      say(`PyTorch: ${JSON.stringify(results.torch)}`);
      const hbm = torchCall(python, script, ["hbm"], 300) as {
        bytesPerSecond: number;
        bytes: number;
      };
      results.hbmBytesPerSecond = hbm.bytesPerSecond;
      say(
        `HBM: device-to-device copy of ${(hbm.bytes / 2 ** 30).toFixed(0)} GiB: ${(hbm.bytesPerSecond / 1e12).toFixed(2)} TB/s (read + write)`,
      );
    } catch (e) {
      say(`PyTorch: not available: ${(e as Error).message}`);
    }
  }
  flush();

  const usable = modes.filter((m) => m !== "webgpu" || webgpuOk);
  for (const mode of usable) {
    say(
      `\nSmoke test on ${mode} against float64 selectiveScan (tolerance ${SMOKE_TOLERANCE} of the output's scale):`,
    );
    for (const c of smokeCases()) {
      const ref = selectiveScan(c.args);
      for (const variant of ["naive", "chunked"] as const) {
        const scanner = createGpuSelectiveScanAsync({
          mode,
          variant,
          ...(variant === "chunked" ? { chunkSize: 16 } : {}),
        });
        try {
          const r = await scanner.run(c.args);
          let err = relDiff(r.out.data, ref.out.data);
          if (c.args.returnLastState)
            err = Math.max(err, relDiff(r.lastState!.data, ref.lastState!.data));
          const ok = err <= SMOKE_TOLERANCE && r.backend === mode;
          results.smoke.push({
            mode,
            case: c.name,
            variant,
            relErr: err,
            ok,
            note: `ran on ${r.backend}`,
          });
          say(
            `  ${ok ? "ok  " : "FAIL"} ${variant.padEnd(8)} ${c.name}: rel err ${err.toExponential(2)} on ${r.backend}`,
          );
        } catch (e) {
          results.smoke.push({
            mode,
            case: c.name,
            variant,
            relErr: null,
            ok: false,
            note: (e as Error).message,
          });
          say(`  FAIL ${variant.padEnd(8)} ${c.name}: ${(e as Error).message.split("\n")[0]}`);
        } finally {
          scanner.destroy();
        }
      }
    }
    const uncaptured = takeUncapturedWebGpuErrors();
    if (uncaptured.length > 0) say(`  uncaptured device errors: ${uncaptured.join(" | ")}`);
    flush();
  }

  if (usable.length === 0 && !results.torch) {
    say(
      "\nNeither a gpu.js backend of SCAN_WEBGPU_MODES nor PyTorch CUDA is available: nothing to measure.",
    );
    flush();
    return;
  }
  for (const size of sizes) {
    const [b, d, l, n] = size;
    const work = b * d * l * n;
    say(
      `\n=== (b, d, l, n) = (${size.join(", ")}): ${(work / 1e6).toFixed(1)} M state updates ===`,
    );
    const args = scanInputs(size);
    const idealBytes = selectiveScanLowerBound(
      { batch: b, dim: d, length: l, dstate: n },
      { expsPerSecond: 1, bytesPerSecond: 1 },
    ).bytes;
    const t0 = performance.now();
    const reference = selectiveScanFast(args).out.data;
    const fastSeconds = (performance.now() - t0) / 1000;
    const entry: SizeResult = {
      size,
      stateUpdates: work,
      idealBytes,
      hbmLimitSeconds: results.hbmBytesPerSecond ? idealBytes / results.hbmBytesPerSecond : null,
      gpujs: [],
      torch: { seconds: null, note: "not run" },
      cpuReference: { fastSeconds },
    };
    if (work <= F64_REFERENCE_LIMIT) {
      entry.cpuReference.relErrF64 = relDiff(reference, selectiveScan(args).out.data);
    }
    results.sizes.push(entry);

    for (const mode of usable) {
      for (const variant of ["naive", "chunked"] as const) {
        const scanner = createGpuSelectiveScanAsync({
          mode,
          variant,
          ...(variant === "chunked" ? { chunkSize: 16 } : {}),
        });
        const row: GpuRow = { variant, backend: mode, seconds: null, note: "" };
        entry.gpujs.push(row);
        try {
          let t = performance.now();
          const first = await scanner.run(args);
          row.firstSeconds = (performance.now() - t) / 1000;
          row.backend = first.backend;
          row.relErrVsCpu = relDiff(first.out.data, reference);
          row.bytesWritten = first.traffic.bytesWritten;
          row.largestIntermediateBytes = first.traffic.largestIntermediateBytes;
          let best = Infinity;
          for (let r = 0; r < 3; r++) {
            t = performance.now();
            await scanner.run(args);
            best = Math.min(best, (performance.now() - t) / 1000);
          }
          row.seconds = best;
          row.note = "best of 3, inputs uploaded and out read back in each run";
        } catch (e) {
          row.note = `failed: ${(e as Error).message.split("\n")[0]}`;
        } finally {
          scanner.destroy();
        }
        say(
          `gpu.js ${variant.padEnd(8)} ${row.backend}: ${fmtS(row.seconds)} (first run ${fmtS(row.firstSeconds ?? null)}), rel err vs CPU ${row.relErrVsCpu?.toExponential(2) ?? "-"} ${row.note.startsWith("failed") ? row.note : ""}`,
        );
        flush();
      }
    }

    if (results.torch) {
      try {
        saveScanInputs(inputsDir, args);
        const r = torchCall(python, script, ["scan", inputsDir, ...size.map(String)], 300) as {
          seconds: number;
          transferSeconds: number;
        };
        const bytes = readFileSync(path.join(inputsDir, "out"));
        const out = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
        entry.torch = {
          seconds: r.seconds,
          transferSeconds: r.transferSeconds,
          relErrVsCpu: relDiff(out, reference),
          note: "selective_scan_ref on CUDA, inputs on the GPU, best of 3 (CUDA events)",
        };
      } catch (e) {
        entry.torch = { seconds: null, note: `failed: ${(e as Error).message.split("\n")[0]}` };
      }
      say(
        `PyTorch CUDA ref: ${fmtS(entry.torch.seconds)} (+ ${fmtS(entry.torch.transferSeconds ?? null)} to upload inputs and read out back), rel err vs CPU ${entry.torch.relErrVsCpu?.toExponential(2) ?? "-"} ${entry.torch.note.startsWith("failed") ? entry.torch.note : ""}`,
      );
    }
    say(
      `HBM limit (ideal fused kernel, ${(idealBytes / 1e6).toFixed(1)} MB): ${fmtS(entry.hbmLimitSeconds)}; CPU reference (selectiveScanFast, one core) ${fmtS(fastSeconds)}`,
    );
    for (const row of entry.gpujs) {
      if (row.seconds === null || (!entry.torch.seconds && !entry.hbmLimitSeconds)) continue;
      const vsTorch = entry.torch.seconds ? (row.seconds / entry.torch.seconds).toFixed(2) : "-";
      const vsHbm = entry.hbmLimitSeconds ? (row.seconds / entry.hbmLimitSeconds).toFixed(0) : "-";
      say(`  gpu.js ${row.variant}: ${vsTorch}× PyTorch CUDA's time, ${vsHbm}× the HBM limit`);
    }
    const nv = entry.gpujs.find((r) => r.variant === "naive")?.seconds;
    const ch = entry.gpujs.find((r) => r.variant === "chunked")?.seconds;
    if (nv && ch) say(`  chunked is ${(nv / ch).toFixed(2)}× faster than naive`);
    flush();
  }
  await releaseWebGpu();
  flush();
}

if (require.main === module) {
  main().then(
    // Dawn keeps the event loop alive: end explicitly
    () => process.exit(0),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
