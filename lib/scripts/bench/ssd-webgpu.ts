/**
 * Benchmark: Mamba-2's chunked SSD (lesson 13, the paper's Listing 1) on a real GPU through
 * gpu.js's WebGPU backend (Dawn), with its data on the device (`createGpuSsd`, kernels in
 * lib/src/gpu/ssd-kernels.ts), against what is measured in the same run on the same inputs:
 * PyTorch's `ssd_minimal_discrete` (state-spaces/mamba's Listing 1) on CUDA in float32
 * (lib/gpu-run/torch_ssd.py) and the HBM limit (the bytes an ideal kernel moves, X, A, B, C read
 * and y written once, at the device-to-device copy bandwidth of lib/gpu-run/torch_scan.py). Every
 * output is checked against a float64 reference of the same inputs. Written for the lent NVIDIA
 * H100/H200 (`npx zx lib/gpu-run/stage.mjs`, then `bash .gpurun/lib/gpu-run/device.sh` there, which
 * runs this after the scan benchmark); it runs wherever Dawn finds an adapter (python3 with torch
 * and CUDA for the anchors).
 *
 * Sizes (b, l, h, p, g, n): lesson 13's CPU benchmark shape (`bench/ssd.ts`: E = 512 channels as
 * h = 8 heads of p = 64, one group, l = 1024) at n = 16, 64, 128 and 256, then (8, 4096, 32, 64,
 * 1, 128). Inputs: X, B, C normal, the log-decays a = Δ·A uniform in (−0.1, 0] as in the CPU
 * benchmark, float32, seeded by the size. Per size and chunk length Q:
 * - anchors (when the benchmarks' Python has torch with CUDA): the float64 reference
 *   (ssd_minimal_discrete in float64 on the GPU, written back) and ssd_minimal_discrete in
 *   float32, timed with CUDA events (median of 20), its error against the float64 reference;
 * - the reference for gpu.js's output: that float64 output, else lib's float64 recurrence
 *   `ssdRecurrence` on the CPU (one core: skipped, and said so, when the budget cannot afford it);
 * - gpu.js: upload (writeBuffer until the GPU is idle), the kernels (from the first submit until
 *   the GPU reports them done: median of 30), read-back, end to end (upload + kernels +
 *   read-back), and each kernel waited for on its own (median of 5 traced forwards).
 * Ratios: the kernels' time over the HBM limit and over PyTorch's.
 *
 * Results: SSD_WEBGPU_OUT (default .bench/ssd-webgpu) gets results.json and table.txt, updated
 * after every measurement. Env: SSD_WEBGPU_SIZES="b,l,h,p,g,n;..." (run in that order),
 * SSD_WEBGPU_CHUNKS (chunk lengths Q, default "64"), TORCH_PYTHON (see ../bench-python.ts),
 * SSD_WEBGPU_TORCH=0 to skip the anchors, SSD_WEBGPU_MODE (default "webgpu"; "cpu", "webasm" or
 * "headlessgl" try the same code without a GPU, at small sizes), SSD_WEBGPU_BUDGET_S (seconds the
 * run may take; lib/gpu-run/device.sh stops it then): a part whose estimated time would pass the
 * budget is skipped and the table and JSON say so. Transfers of a second or more are timed 2
 * times, not 3.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Rng } from "../../dist/rng";
import type { Tensor } from "../../dist/tensor";
import { type SsdInputs, ssdRecurrence } from "../../dist/mamba2/ssd";
import type { DeviceGpuMode } from "../../dist/gpu/device-kernels";
import { createGpuSsd, gpuSsdTraffic } from "../../dist/gpu/ssd";
import { releaseWebGpu } from "../../dist/gpu/webgpu";
import { formatBytes, formatSeconds as fmt, relDiff } from "../bench-scan-common";
import {
  type Timing,
  gpuRunScript,
  measureGpuDevice,
  perKernelTimes,
  relL2,
  runGpuBenchMain,
  startGpuBench,
  timeOnDevice,
  torchCall,
} from "../bench-gpu-common";

/** (b, l, h, p, g, n). */
type SsdSize = [number, number, number, number, number, number];

const DEFAULT_SIZES: SsdSize[] = [
  [1, 1024, 8, 64, 1, 16],
  [1, 1024, 8, 64, 1, 64],
  [1, 1024, 8, 64, 1, 128],
  [1, 1024, 8, 64, 1, 256],
  [8, 4096, 32, 64, 1, 128],
];
const CHUNKS = (process.env.SSD_WEBGPU_CHUNKS ?? "64").split(",").map(Number);
/** Forwards timed per size and Q (their median is reported). */
const FORWARD_REPEATS = 30;
/** lib's float64 SSD recurrence on one core: seconds per state update (b·l·h·p·n), a bound. */
const CPU_REFERENCE_SECONDS_PER_UPDATE = 8e-9;

function parseSizes(text: string | undefined): SsdSize[] {
  if (!text) return DEFAULT_SIZES;
  return text.split(";").map((s) => {
    const v = s.split(",").map(Number);
    if (v.length !== 6 || v.some((x) => !Number.isInteger(x) || x < 1) || v[2] % v[4] !== 0) {
      throw new Error(
        `ssd-webgpu: SSD_WEBGPU_SIZES: expected "b,l,h,p,g,n;..." with g dividing h, got "${s}"`,
      );
    }
    return v as SsdSize;
  });
}

/** The size's inputs, float32: X, B, C normal, a uniform in (−0.1, 0]. */
function ssdInputs(size: SsdSize): SsdInputs {
  const [b, l, h, p, g, n] = size;
  const rng = new Rng(7 + l + 10 * n + 1000 * b * h);
  const A = rng.randn([b, l, h], 1, "float32");
  for (let i = 0; i < A.data.length; i++) A.data[i] = -0.1 * rng.uniform(0, 1);
  return {
    X: rng.randn([b, l, h, p], 1, "float32"),
    A,
    B: rng.randn([b, l, g, n], 1, "float32"),
    C: rng.randn([b, l, g, n], 1, "float32"),
  };
}

/** The same values in float64 (exactly: for the float64 references). */
function asFloat64(inputs: SsdInputs): SsdInputs {
  const f = (t: Tensor): Tensor => ({ shape: t.shape, data: Float64Array.from(t.data) });
  return { X: f(inputs.X), A: f(inputs.A), B: f(inputs.B), C: f(inputs.C) };
}

function saveInputs(dir: string, inputs: SsdInputs): void {
  for (const [name, t] of Object.entries(inputs) as [string, Tensor][]) {
    const data = t.data as Float32Array;
    writeFileSync(
      path.join(dir, name),
      new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    );
  }
}

async function main(): Promise<void> {
  const outDir = process.env.SSD_WEBGPU_OUT ?? path.join(".bench", "ssd-webgpu");
  const inputsDir = path.join(os.tmpdir(), "ssd-webgpu-inputs");
  mkdirSync(inputsDir, { recursive: true });
  const sizes = parseSizes(process.env.SSD_WEBGPU_SIZES);
  const mode = (process.env.SSD_WEBGPU_MODE ?? "webgpu") as DeviceGpuMode;
  const webgpu = mode === "webgpu";
  const run = startGpuBench(outDir, Number(process.env.SSD_WEBGPU_BUDGET_S ?? Infinity), mode);
  const { results, say, flush, elapsed, left, affordable, python } = run;
  const script = gpuRunScript("torch_ssd.py");
  say(
    `Mamba-2's chunked SSD on a GPU: gpu.js (${mode}) against PyTorch's ssd_minimal_discrete on CUDA. ${results.date as string}`,
  );
  const { torch, hbm } = await measureGpuDevice(run, {
    webgpu,
    torch: process.env.SSD_WEBGPU_TORCH !== "0",
  });
  // webgpu waits for the GPU after each traced kernel, cpu and webasm run synchronously; a GL
  // backend draws later, so a kernel's time there may hold the previous kernels' work
  const perKernelHow =
    mode === "headlessgl"
      ? "as submitted: GL draws later, times shift between kernels"
      : "each waited for";

  // smoke: small sizes against lib's float64 recurrence (l not a multiple of Q, two groups)
  say(`\nSmoke test: the gpu.js SSD on ${mode} against lib's float64 recurrence`);
  const smoke: unknown[] = [];
  results.smoke = smoke;
  for (const [size, Q] of [
    [[2, 37, 4, 5, 2, 6], 8],
    [[1, 256, 8, 64, 1, 16], 64],
  ] as [SsdSize, number][]) {
    const ssd = createGpuSsd({ mode, chunkSize: Q });
    try {
      const inputs = ssdInputs(size);
      const r = await ssd.read(await ssd.forward(await ssd.upload(inputs), { finalState: true }));
      const want = ssdRecurrence(asFloat64(inputs));
      const errors = {
        y: relDiff(r.y.data, want.y.data),
        finalState: relDiff(r.finalState!.data, want.finalState.data),
      };
      const worst = Math.max(errors.y, errors.finalState);
      smoke.push({ size, chunk: Q, errors, ok: worst < 2e-5 });
      say(
        `  ${worst < 2e-5 ? "ok  " : "FAIL"} (${size.join(", ")}) Q=${Q}: y ${errors.y.toExponential(1)}, final state ${errors.finalState.toExponential(1)} (max error / max(1, max |ref|))`,
      );
    } catch (e) {
      smoke.push({ size, chunk: Q, error: (e as Error).message });
      say(`  FAIL (${size.join(", ")}): ${(e as Error).message.split("\n")[0]}`);
    } finally {
      ssd.destroy();
    }
  }
  flush();

  const summary: string[][] = [];
  for (const size of sizes) {
    const [b, l, h, p, g, n] = size;
    const updates = b * l * h * p * n;
    say(
      `\n=== (b, l, h, p, g, n) = (${size.join(", ")}): ${(updates / 1e6).toFixed(1)} M state updates (at ${elapsed().toFixed(0)} s of the run) ===`,
    );
    const entry: Record<string, unknown> = {
      size,
      stateUpdates: updates,
      startedAtSeconds: elapsed(),
    };
    results.sizes.push(entry);
    const inputs = ssdInputs(size);
    const { ideal } = gpuSsdTraffic(
      { batch: b, length: l, heads: h, headDim: p, groups: g, dstate: n },
      { chunkSize: CHUNKS[0] },
    );
    const idealBytes = ideal.bytesRead + ideal.bytesWritten;
    entry.idealBytes = idealBytes;
    entry.hbmLimitSeconds = hbm ? idealBytes / hbm : null;
    say(
      `an ideal kernel moves ${formatBytes(idealBytes)} (X, A, B, C read, y written once): HBM limit ${fmt(entry.hbmLimitSeconds as number | null)}`,
    );
    // one upload of the inputs: estimated at 0.5 GB/s until the first upload is timed
    const inputBytes = ideal.bytesRead;
    let uploadS: number | null = null;
    const uploadEstimate = (): number => uploadS ?? inputBytes / 0.5e9;
    const transfers = (): number => (uploadEstimate() >= 1 ? 2 : 3);

    // anchors (per Q: ssd_minimal_discrete's block length) and the float64 reference
    let reference: Float64Array | null = null;
    const anchors: Record<string, unknown>[] = [];
    entry.anchors = anchors;
    if (torch) {
      saveInputs(inputsDir, inputs);
      for (const Q of CHUNKS) {
        const row: Record<string, unknown> = { chunk: Q };
        anchors.push(row);
        if (l % Q !== 0) {
          row.skipped = `ssd_minimal_discrete needs Q to divide l`;
          continue;
        }
        try {
          Object.assign(
            row,
            torchCall(
              python,
              script,
              ["anchors", inputsDir, ...size.map(String), String(Q)],
              Math.max(30, Math.min(900, left())),
            ),
          );
          if (!reference) {
            const bytes = readFileSync(path.join(inputsDir, "ref64"));
            reference = new Float64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 8);
            entry.reference = "ssd_minimal_discrete in float64 on CUDA";
          }
          const t = row.torchSsd as { seconds?: number; relL2?: number; error?: string };
          say(
            `PyTorch ssd_minimal_discrete (fp32, CUDA) Q=${Q}: ${t.seconds ? `${fmt(t.seconds)}, rel L2 err ${t.relL2?.toExponential(2)}` : `failed: ${t.error}`}`,
          );
        } catch (e) {
          row.error = (e as Error).message;
          say(`anchors Q=${Q} failed: ${(e as Error).message.split("\n")[0]}`);
        }
        flush();
      }
    }
    if (!reference) {
      const cpu: Record<string, unknown> = {};
      if (
        affordable(
          "float64 reference on the CPU",
          1.5 * updates * CPU_REFERENCE_SECONDS_PER_UPDATE,
          cpu,
        )
      ) {
        const t0 = performance.now();
        reference = ssdRecurrence(asFloat64(inputs)).y.data as Float64Array;
        entry.reference = "lib's ssdRecurrence in float64 on the CPU";
        entry.cpuReferenceSeconds = (performance.now() - t0) / 1000;
      } else entry.reference = `none: ${cpu.skipped as string}`;
    }
    if (!reference) say("no float64 reference at this size: outputs not checked");
    const check = (out: Float32Array) =>
      reference ? { relL2: relL2(out, reference), relMax: relDiff(out, reference) } : {};
    flush();

    const rows: Record<string, unknown>[] = [];
    entry.gpujs = rows;
    for (const Q of CHUNKS) {
      const row: Record<string, unknown> = { chunk: Q };
      rows.push(row);
      // the checked run, the timed uploads and end-to-end runs, the traced run
      if (!affordable(`gpu.js SSD Q=${Q}`, 1.3 * uploadEstimate() * (3 + 2 * transfers()), row)) {
        continue;
      }
      const ssd = createGpuSsd({ mode, chunkSize: Q, errorScopes: false });
      try {
        const { traffic } = gpuSsdTraffic(
          { batch: b, length: l, heads: h, headDim: p, groups: g, dstate: n },
          { chunkSize: Q },
        );
        row.traffic = traffic;
        // checked run (device errors reject, the output compared), then the timed runs
        const { first, forward, read, upload, endToEnd } = await timeOnDevice(ssd, inputs, {
          webgpu,
          label: "ssd-webgpu",
          repeats: webgpu ? FORWARD_REPEATS : 2,
          transfers,
          uploaded: (seconds) => (uploadS ??= seconds),
        });
        Object.assign(row, check(first.y.data), { forward, read, upload, endToEnd });
      } catch (e) {
        row.error = (e as Error).message;
        say(`gpu.js SSD Q=${Q}: failed: ${(e as Error).message.split("\n")[0]}`);
      } finally {
        ssd.destroy();
      }
      flush();
      if (row.error) continue;
      const t = (k: string) => (row[k] as Timing).seconds;
      const limit = entry.hbmLimitSeconds as number | null;
      const torchS = (anchors.find((a) => a.chunk === Q)?.torchSsd as { seconds?: number })
        ?.seconds;
      say(
        `gpu.js SSD Q=${String(Q).padEnd(3)}: kernels ${fmt(t("forward"))}${limit ? ` (${(t("forward") / limit).toFixed(1)}× HBM limit)` : ""}${torchS ? ` (${(t("forward") / torchS).toFixed(2)}× PyTorch)` : ""}, upload ${fmt(t("upload"))}, read-back ${fmt(t("read"))}, end to end ${fmt(t("endToEnd"))}; rel L2 err ${(row.relL2 as number | undefined)?.toExponential(2) ?? "-"}; kernels move ${formatBytes((row.traffic as { bytesRead: number }).bytesRead)} loaded, ${formatBytes((row.traffic as { bytesWritten: number }).bytesWritten)} written`,
      );
      summary.push([
        `(${size.join(", ")})`,
        String(Q),
        fmt(limit),
        torchS ? fmt(torchS) : "-",
        fmt(t("forward")),
        limit ? `${(t("forward") / limit).toFixed(1)}×` : "-",
        torchS ? `${(t("forward") / torchS).toFixed(2)}×` : "-",
        fmt(t("upload")),
        fmt(t("read")),
        fmt(t("endToEnd")),
        (row.relL2 as number | undefined)?.toExponential(1) ?? "-",
      ]);

      // per kernel: each waited for, median of 5 traced forwards
      const traceRow: Record<string, unknown> = {};
      if (!affordable("    per-kernel trace", 1.3 * uploadEstimate(), traceRow)) {
        row.perKernelSkipped = traceRow.skipped;
        continue;
      }
      const traced = createGpuSsd({ mode, chunkSize: Q, errorScopes: false, trace: true });
      try {
        row.perKernel = await perKernelTimes(traced, inputs);
        say(
          `    per kernel (${perKernelHow}): ${(row.perKernel as { kernel: string; seconds: number }[]).map((k) => `${k.kernel} ${fmt(k.seconds)}`).join(", ")}`,
        );
      } catch (e) {
        row.perKernelError = (e as Error).message;
        say(`    per-kernel trace: failed: ${(e as Error).message.split("\n")[0]}`);
      } finally {
        traced.destroy();
      }
      flush();
    }
    run.endSize(entry, webgpu);
  }

  say(
    `\nSummary (${mode}; kernels: median of ${webgpu ? FORWARD_REPEATS : 2}, inputs on the device; ratios: kernels over the HBM limit and over PyTorch's fp32 ssd_minimal_discrete):`,
  );
  const header = [
    "(b, l, h, p, g, n)",
    "Q",
    "HBM limit",
    "PyTorch fp32",
    "gpu.js kernels",
    "÷ HBM",
    "÷ PyTorch",
    "upload",
    "read-back",
    "end to end",
    "rel L2 err",
  ];
  const widths = header.map((c, i) => Math.max(c.length, ...summary.map((r) => r[i].length)));
  for (const r of [header, ...summary]) {
    say(
      r
        .map((c, i) => c.padEnd(widths[i]))
        .join("  ")
        .trimEnd(),
    );
  }
  if (webgpu) await releaseWebGpu();
  flush();
}

if (require.main === module) runGpuBenchMain(main);
