/**
 * Benchmark: lesson 08's gpu.js selective scans on a real GPU through gpu.js's WebGPU backend
 * (Dawn), with the data on the device, against the anchors measured in the same run on the same
 * inputs: Mamba's official CUDA forward (fp32, built there by lib/gpu-run/mamba_cuda.py), PyTorch's
 * selective_scan_ref, the device-to-device copy bandwidth (the HBM limit) and the exp throughput
 * (the exp floor). Every output is checked against a float64 reference of the same inputs.
 * Written for the lent NVIDIA H100/H200 (`npx zx lib/gpu-run/stage.mjs`, then `bash
 * .gpurun/lib/gpu-run/device.sh` there); it runs wherever Dawn finds an adapter (python3 with torch
 * and CUDA for the anchors).
 *
 * Per size (b, d, l, n), inputs `randomSelectiveScanArgs(new Rng(7 + l))` as the CPU benchmark:
 * - anchors (lib/gpu-run/torch_scan.py): the float64 reference, selective_scan_ref and the
 *   official kernel, timed with CUDA events (median), their errors against float64;
 * - lib's hand-written WGSL scan (createWgslScan) from the same uploads on the same device, at the
 *   tilings of SCAN_WEBGPU_WGSL ("channels,lanes,chunk;..."): forward and back to back, the first
 *   tiling also upload, read-back and end to end; the bound of the "within 2× of WGSL" targets;
 * - the fused gpu.js scan (createFusedGpuScan) for chunk lengths T: upload (the argument check
 *   on the host, the "staged" upload and the check of u's, delta's and z's values on the device,
 *   until the GPU is idle; once a size also the "write" and "mapped" paths), forward (the chained
 *   kernels, from the first submit until the GPU reports them done: median of 20; and back to
 *   back, 10 forwards waited for once), read-back, end to end; the backward the same way, checked against lib's
 *   CPU backward (float64, selectiveScanBackward) where that takes seconds, not minutes;
 * - the WGSL backward at the tilings of SCAN_WEBGPU_WGSL_BACKWARD ("channels,lanes,chunk[,0];...",
 *   a last 0 for no subgroup shuffles): its training forward, then its two kernels one at a time
 *   and back to back, checked as gpu.js's backward;
 * - the shipped chunked and naive scans (gpuSelectiveScanAsync: upload, kernels and read-back in
 *   every call), best of 2, where they fit.
 * Ratios: time over the HBM limit (the bytes an ideal fused kernel moves, at the copy bandwidth),
 * over the exp floor (b·d·l·n exponentials at 16 per SM per clock) and over the official kernel.
 *
 * Results: SCAN_WEBGPU_OUT (default .bench/scan-webgpu) gets results.json and table.txt, updated
 * after every measurement. Env: SCAN_WEBGPU_SIZES="b,d,l,n;..." (run in that order),
 * TORCH_PYTHON (see ../bench-python.ts), SCAN_WEBGPU_TORCH=0 to skip the anchors, SCAN_WEBGPU_MODE
 * (default "webgpu"; "cpu" or "headlessgl" to try the same code without a GPU on small sizes),
 * SCAN_WEBGPU_BUDGET_S (seconds the whole run may take; lib/gpu-run/device.sh stops it then): a
 * part whose estimated time (from the size's measured upload) would pass the budget is skipped
 * and the table and JSON say so, rather than the run being cut off in the middle of a size.
 * Transfers of a second or more are timed 2 times, not 3.
 */
import { mkdirSync, readFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Rng } from "../../dist/rng";
import type { Tensor } from "../../dist/tensor";
import { type SelectiveScanArgs, selectiveScan } from "../../dist/selective/scan";
import { randomSelectiveScanArgs } from "../../dist/scan/random-args";
import {
  selectiveScanBackward,
  selectiveScanForwardTrain,
} from "../../dist/selective/scan-backward";
import { idealFusedTraffic } from "../../dist/gpu/selective-scan";
import { createGpuSelectiveScanAsync } from "../../dist/gpu/selective-scan-async";
import {
  type FusedScanGrads,
  createFusedGpuScan,
  fusedScanTraffic,
} from "../../dist/gpu/fused-scan";
import {
  type WgslBackwardPlan,
  type WgslScanTiling,
  createWgslScan,
} from "../../dist/gpu/wgsl-scan";
import { releaseWebGpu, webGpuIdle, withDeviceErrorScopes } from "../../dist/gpu/webgpu";
import {
  type ScanSize,
  formatSeconds,
  relDiff,
  saveScanInputs,
  scanInputs,
} from "../bench-scan-common";
import {
  type Timing,
  gpuRunScript,
  measureGpuDevice,
  BACK_TO_BACK,
  perKernelTimes,
  relL2,
  runGpuBenchMain,
  startGpuBench,
  time,
  timeBackToBack,
  timeKernels,
  timeOnDevice,
  torchCall,
} from "../bench-gpu-common";

const DEFAULT_SIZES: ScanSize[] = [
  [1, 256, 1024, 16],
  [2, 512, 4096, 16],
  [1, 1024, 16384, 16],
  [8, 2048, 4096, 16],
  // the naive scan's (b, d, l, n) tensor would be 8.6 GB, over a WebGPU buffer's 4 GB
  [8, 2048, 8192, 16],
];
const CHUNKS = (process.env.SCAN_WEBGPU_CHUNKS ?? "8,16,32").split(",").map(Number);
const BACKWARD_CHUNKS = (process.env.SCAN_WEBGPU_BACKWARD_CHUNKS ?? "8,16").split(",").map(Number);
/** Tilings written "channels,lanes,chunk[,0];..." (a last 0: the backward without shuffles). */
const parseTilings = (text: string): WgslScanTiling[] =>
  text
    .split(";")
    .filter((t) => t.length > 0)
    .map((t) => {
      const [channels, lanes, chunk, shuffles] = t.split(",").map(Number);
      return shuffles === 0
        ? { channels, lanes, chunk, shuffles: false }
        : { channels, lanes, chunk };
    });
/** The hand-written WGSL scan's tilings: all timed, the first also end to end. */
const WGSL_TILINGS = parseTilings(
  process.env.SCAN_WEBGPU_WGSL ?? "32,4,32;16,4,32;64,4,16;16,4,16;32,2,32;64,2,16;32,1,16",
);
/** The WGSL backward's tilings: each timed from its own training forward. */
const WGSL_BACKWARD_TILINGS = parseTilings(
  process.env.SCAN_WEBGPU_WGSL_BACKWARD ?? "16,4,8;16,4,8,0;32,4,8;64,4,8;16,8,16;32,8,16",
);
/** CPU backward check (float64, one core) up to this many state updates. */
const CPU_BACKWARD_LIMIT = 2 ** 26;
/** The shipped scans (every call uploads and reads back) up to this many state updates. */
const SHIPPED_LIMIT = 2 ** 30;
const NAIVE_LIMIT = 2 ** 28;
const fmt = formatSeconds;

function parseSizes(text: string | undefined): ScanSize[] {
  if (!text) return DEFAULT_SIZES;
  return text.split(";").map((s) => {
    const v = s.split(",").map(Number);
    if (v.length !== 4 || v.some((x) => !Number.isInteger(x) || x < 1)) {
      throw new Error(`scan-webgpu: SCAN_WEBGPU_SIZES: expected "b,d,l,n;...", got "${s}"`);
    }
    return v as ScanSize;
  });
}

async function main(): Promise<void> {
  const outDir = process.env.SCAN_WEBGPU_OUT ?? path.join(".bench", "scan-webgpu");
  const inputsDir = path.join(os.tmpdir(), "scan-webgpu-inputs");
  mkdirSync(inputsDir, { recursive: true });
  const sizes = parseSizes(process.env.SCAN_WEBGPU_SIZES);
  const mode = (process.env.SCAN_WEBGPU_MODE ?? "webgpu") as "webgpu" | "cpu" | "headlessgl";
  const webgpu = mode === "webgpu";
  const run = startGpuBench(outDir, Number(process.env.SCAN_WEBGPU_BUDGET_S ?? Infinity), mode);
  const { results, say, flush, elapsed, left, affordable, python } = run;
  const script = gpuRunScript("torch_scan.py");
  say(
    `Selective scan on a GPU: gpu.js (${mode}) against Mamba's CUDA kernel and PyTorch. ${results.date as string}`,
  );
  const { torch, hbm } = await measureGpuDevice(run, {
    webgpu,
    torch: process.env.SCAN_WEBGPU_TORCH !== "0",
  });
  // exponentials: 16 per SM per clock (the special-function units of Hopper and its predecessors)
  const expsPerSecond =
    torch?.sms && torch.smClockMHz ? torch.sms * 16 * torch.smClockMHz * 1e6 : null;
  results.expsPerSecond = expsPerSecond;
  flush();

  // smoke: the fused scan's and (on webgpu) the WGSL scan's forward and backward against lib's
  // float64 CPU scans
  say(
    `\nSmoke test: fused${webgpu ? " and WGSL" : ""} forward and backward on ${mode} against lib's float64 CPU scans`,
  );
  const smoke: unknown[] = [];
  results.smoke = smoke;
  /** One forward and backward of a fresh scanner of `kind`, read back. */
  const smokeRun = async (
    kind: "fused" | "wgsl",
    args: SelectiveScanArgs,
    dout: Tensor,
    T: number,
  ): Promise<{ out: Tensor; lastState?: Tensor; grads: FusedScanGrads }> => {
    if (kind === "fused") {
      const scanner = createFusedGpuScan({ mode, chunkSize: T, superChunk: 2 });
      try {
        const up = await scanner.upload(args);
        const o = await scanner.forward(up);
        const r = await scanner.read(o);
        const g = await scanner.uploadGradient(up, dout);
        return { ...r, grads: await scanner.readGradients(up, await scanner.backward(up, o, g)) };
      } finally {
        scanner.destroy();
      }
    }
    const scanner = createWgslScan({ channels: 2, lanes: 2, chunk: T });
    try {
      const up = await scanner.upload(args);
      return await withDeviceErrorScopes("scan-webgpu", async () => {
        const saved = await scanner.forwardTrain(up);
        const r = await scanner.read(saved.out);
        const g = await scanner.uploadGradient(up, dout);
        return {
          ...r,
          grads: await scanner.readGradients(up, await scanner.backward(up, saved, g)),
        };
      });
    } finally {
      scanner.destroy();
    }
  };
  for (const kind of webgpu ? (["fused", "wgsl"] as const) : (["fused"] as const)) {
    for (const [b, d, l, n, T] of [
      [2, 3, 37, 5, 8],
      [1, 4, 64, 16, 16],
    ]) {
      const args = {
        ...randomSelectiveScanArgs(new Rng(l), { batch: b, dim: d, length: l, dstate: n }),
        returnLastState: true,
      };
      const dout: Tensor = {
        shape: [b, d, l],
        data: Float32Array.from({ length: b * d * l }, (_, i) => Math.sin(0.7 * i)),
      };
      try {
        const r = await smokeRun(kind, args, dout, T);
        const ref = selectiveScan(args);
        const plain = { ...args, returnLastState: false };
        const want = selectiveScanBackward(selectiveScanForwardTrain(plain).cache, dout);
        const errs: Record<string, number> = { out: relDiff(r.out.data, ref.out.data) };
        if (r.lastState) errs.lastState = relDiff(r.lastState.data, ref.lastState!.data);
        for (const k of ["du", "ddelta", "dA", "dB", "dC", "dD", "dz", "ddeltaBias"] as const) {
          errs[k] = relDiff(r.grads[k]!.data, want[k]!.data);
        }
        const worst = Math.max(...Object.values(errs));
        smoke.push({ scan: kind, size: [b, d, l, n], chunk: T, errors: errs, ok: worst < 1e-4 });
        say(
          `  ${worst < 1e-4 ? "ok  " : "FAIL"} ${kind} (${[b, d, l, n].join(", ")}) T=${T}: worst rel err ${worst.toExponential(2)} (${Object.entries(
            errs,
          )
            .map(([k, v]) => `${k} ${v.toExponential(1)}`)
            .join(", ")})`,
        );
      } catch (e) {
        smoke.push({ scan: kind, size: [b, d, l, n], chunk: T, error: (e as Error).message });
        say(`  FAIL ${kind} (${[b, d, l, n].join(", ")}): ${(e as Error).message.split("\n")[0]}`);
      }
    }
  }
  flush();

  for (const size of sizes) {
    const [b, d, l, n] = size;
    const work = b * d * l * n;
    say(
      `\n=== (b, d, l, n) = (${size.join(", ")}): ${(work / 1e6).toFixed(1)} M state updates (at ${elapsed().toFixed(0)} s of the run) ===`,
    );
    const entry: Record<string, unknown> = {
      size,
      stateUpdates: work,
      startedAtSeconds: elapsed(),
    };
    results.sizes.push(entry);
    const args = scanInputs(size);
    const ideal = idealFusedTraffic(
      { batch: b, dim: d, length: l, dstate: n },
      { returnLastState: false },
    );
    const idealBytes = ideal.bytesRead + ideal.bytesWritten;
    // the backward's: u, delta, z, dout, B, C read, du, ddelta, dz, dB, dC written (and d-sized)
    const idealBackwardBytes = 4 * (7 * b * d * l + 4 * b * n * l + 3 * d * n + 6 * d);
    entry.idealBytes = idealBytes;
    entry.idealBackwardBytes = idealBackwardBytes;
    entry.hbmLimitSeconds = hbm ? idealBytes / hbm : null;
    entry.hbmBackwardLimitSeconds = hbm ? idealBackwardBytes / hbm : null;
    entry.expFloorSeconds = expsPerSecond ? work / expsPerSecond : null;
    say(
      `ideal fused kernel moves ${(idealBytes / 1e6).toFixed(1)} MB: HBM limit ${fmt(entry.hbmLimitSeconds as number | null)}; exp floor ${fmt(entry.expFloorSeconds as number | null)}; backward HBM limit ${fmt(entry.hbmBackwardLimitSeconds as number | null)}`,
    );

    // what one upload of this size's inputs takes: estimated from the bytes at 0.5 GB/s until the
    // first upload is timed; the budget's estimates are multiples of it
    const inputBytes = 4 * (3 * b * d * l + 2 * b * n * l + 4 * d * n);
    let uploadS: number | null = null;
    const uploadEstimate = (): number => uploadS ?? inputBytes / 0.5e9;
    const transfers = (): number => (uploadEstimate() >= 1 ? 2 : 3);

    // anchors and the float64 reference
    let ref64: Float64Array | null = null;
    if (torch) {
      try {
        saveScanInputs(inputsDir, args);
        const a = torchCall(
          python,
          script,
          ["anchors", inputsDir, ...size.map(String)],
          Math.max(30, Math.min(900, left())),
        ) as Record<string, unknown>;
        entry.anchors = a;
        const bytes = readFileSync(path.join(inputsDir, "ref64"));
        ref64 = new Float64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 8);
        const off = a.official as { seconds?: number; relL2?: number; error?: string };
        const ref = a.torchRef as { seconds?: number; relL2?: number; error?: string };
        say(
          `Mamba's CUDA forward (fp32): ${off.seconds ? `${fmt(off.seconds)}, rel L2 err ${off.relL2?.toExponential(2)}` : `failed: ${off.error}`}`,
        );
        say(
          `PyTorch selective_scan_ref (fp32): ${ref.seconds ? `${fmt(ref.seconds)}, rel L2 err ${ref.relL2?.toExponential(2)}` : `not measured: ${ref.error}`}`,
        );
      } catch (e) {
        entry.anchors = { error: (e as Error).message };
        say(`anchors failed: ${(e as Error).message.split("\n")[0]}`);
      }
    }
    const reference = ref64 ?? (work <= 2 ** 26 ? selectiveScan(args).out.data : null);
    if (!reference) say("no float64 reference at this size: outputs not checked");
    const check = (out: Float32Array) =>
      reference ? { relL2: relL2(out, reference), relMax: relDiff(out, reference) } : {};
    flush();
    const idle = webgpu ? webGpuIdle : async () => {};

    // the hand-written WGSL scan from the same uploads on the same device: the fused design
    // where the kernel language allows workgroup memory, register arrays and its own loops
    const wgsl: Record<string, unknown>[] = [];
    entry.wgsl = wgsl;
    for (const [k, tiling] of (webgpu ? WGSL_TILINGS : []).entries()) {
      const row: Record<string, unknown> = { asked: tiling };
      wgsl.push(row);
      const label = `WGSL ${tiling.channels} channels × ${tiling.lanes} lanes, chunks of ${tiling.chunk}`;
      if (!affordable(label, 1.3 * uploadEstimate() * (k === 0 ? 3 + 2 * transfers() : 2), row)) {
        continue;
      }
      const scanner = createWgslScan(tiling);
      try {
        if (k === 0) {
          // checked run, then forward, back to back, read-back, upload and end to end
          const { first, ...timings } = await timeOnDevice(scanner, args, {
            webgpu,
            label: "scan-webgpu",
            repeats: 20,
            transfers,
            uploaded: (seconds) => (uploadS ??= seconds),
          });
          Object.assign(row, check(first.out.data), timings);
        } else {
          // the kernels only: the transfers are the same uploads and read-back as the first's
          const up = await scanner.upload(args);
          const { first, ...timings } = await timeKernels(scanner, up, {
            webgpu,
            label: "scan-webgpu",
            repeats: 20,
          });
          Object.assign(row, check(first.out.data), timings);
          scanner.free(up);
        }
        row.plan = scanner.plan();
        const t = (key: string) => (row[key] as Timing | undefined)?.seconds ?? null;
        const overHbm = (key: string) =>
          hbm && t(key)
            ? ` (${(t(key)! / (entry.hbmLimitSeconds as number)).toFixed(1)}× HBM limit)`
            : "";
        const p = row.plan as { channels: number; lanes: number; chunk: number };
        say(
          `WGSL ${p.channels} ch × ${p.lanes} lanes, T=${p.chunk}: forward ${fmt(t("forward"))}${overHbm("forward")}, back to back ${fmt(t("forwardBackToBack"))}${overHbm("forwardBackToBack")}${k === 0 ? `, upload ${fmt(t("upload"))}, read-back ${fmt(t("read"))}, end to end ${fmt(t("endToEnd"))}` : ""}; rel L2 err ${(row.relL2 as number | undefined)?.toExponential(2) ?? "-"}`,
        );
      } catch (e) {
        row.error = (e as Error).message;
        say(`${label}: failed: ${(e as Error).message.split("\n")[0]}`);
      } finally {
        scanner.destroy();
      }
      flush();
    }

    // the fused gpu.js scan, data on the device
    const fused: Record<string, unknown>[] = [];
    entry.fused = fused;
    let otherUploadsDone = false;
    for (const T of CHUNKS) {
      const row: Record<string, unknown> = { chunk: T, superChunk: 16 };
      fused.push(row);
      // the checked run, the timed uploads and end-to-end runs, the traced run
      if (!affordable(`gpu.js fused T=${T}`, 1.3 * uploadEstimate() * (3 + 2 * transfers()), row)) {
        continue;
      }
      const scanner = createFusedGpuScan({
        mode,
        chunkSize: T,
        superChunk: 16,
        errorScopes: false,
      });
      try {
        row.traffic = fusedScanTraffic(
          { batch: b, dim: d, length: l, dstate: n },
          { chunkSize: T },
        ).traffic;
        // checked run (device errors reject, every output compared), then the timed runs
        const { first, forward, forwardBackToBack, read, upload, endToEnd } = await timeOnDevice(
          scanner,
          args,
          {
            webgpu,
            label: "scan-webgpu",
            repeats: webgpu ? 20 : 2,
            transfers,
            uploaded: (seconds) => (uploadS ??= seconds),
          },
        );
        Object.assign(row, check(first.out.data), {
          forward,
          forwardBackToBack,
          read,
          upload,
          endToEnd,
        });
        const t = (k: string) => (row[k] as Timing).seconds;
        const overHbm = (k: string) =>
          hbm ? ` (${(t(k) / (entry.hbmLimitSeconds as number)).toFixed(1)}× HBM limit)` : "";
        say(
          `gpu.js fused T=${String(T).padEnd(2)}: forward ${fmt(t("forward"))}${overHbm("forward")}, back to back ${fmt(t("forwardBackToBack"))}${overHbm("forwardBackToBack")}, upload ${fmt(t("upload"))}, read-back ${fmt(t("read"))}, end to end ${fmt(t("endToEnd"))}; rel L2 err ${(row.relL2 as number | undefined)?.toExponential(2) ?? "-"}`,
        );
      } catch (e) {
        row.error = (e as Error).message;
        say(`gpu.js fused T=${T}: failed: ${(e as Error).message.split("\n")[0]}`);
      } finally {
        scanner.destroy();
      }
      flush();
      if (row.error) continue;
      // the other upload paths (once a size: they do not depend on T): queue.writeBuffer of
      // each whole tensor, and buffers mapped at creation
      for (const how of webgpu && !otherUploadsDone ? (["write", "mapped"] as const) : []) {
        const key = how === "write" ? "uploadWrite" : "uploadMapped";
        const other: Record<string, unknown> = {};
        if (!affordable(`upload by "${how}"`, 1.3 * uploadEstimate() * (1 + transfers()), other)) {
          row[`${key}Skipped`] = other.skipped;
          continue;
        }
        const otherScanner = createFusedGpuScan({
          mode,
          chunkSize: T,
          superChunk: 16,
          errorScopes: false,
          upload: how,
        });
        try {
          const up2 = await otherScanner.upload(args);
          const r = await otherScanner.read(await otherScanner.forward(up2));
          row[`${key}RelL2`] = reference ? relL2(r.out.data, reference) : null;
          otherScanner.free(up2);
          row[key] = await time(transfers(), async () => {
            const u2 = await otherScanner.upload(args);
            await webGpuIdle();
            otherScanner.free(u2);
          });
          say(`    upload by "${how}" instead: ${fmt((row[key] as Timing).seconds)}`);
        } catch (e) {
          row[`${key}Error`] = (e as Error).message;
          say(`    upload by "${how}": failed: ${(e as Error).message.split("\n")[0]}`);
        } finally {
          otherScanner.destroy();
        }
        flush();
      }
      otherUploadsDone = true;
      // per kernel: each waited for, median of 5 traced forwards
      const traceRow: Record<string, unknown> = {};
      if (!affordable("    per-kernel trace", 1.3 * uploadEstimate(), traceRow)) {
        row.perKernelSkipped = traceRow.skipped;
        continue;
      }
      const traced = createFusedGpuScan({
        mode,
        chunkSize: T,
        superChunk: 16,
        errorScopes: false,
        trace: true,
      });
      try {
        row.perKernel = await perKernelTimes(traced, args);
        say(
          `    per kernel (each waited for): ${(row.perKernel as { kernel: string; seconds: number }[]).map((k) => `${k.kernel} ${fmt(k.seconds)}`).join(", ")}`,
        );
      } catch (e) {
        row.perKernelError = (e as Error).message;
        say(`    per-kernel trace: failed: ${(e as Error).message.split("\n")[0]}`);
      } finally {
        traced.destroy();
      }
      flush();
    }

    // the backward
    const overBackwardHbm = (seconds: number) =>
      hbm
        ? ` (${(seconds / (entry.hbmBackwardLimitSeconds as number)).toFixed(1)}× its HBM limit)`
        : "";
    const backward: Record<string, unknown>[] = [];
    entry.backward = backward;
    let dout: Tensor | null = null;
    let cpuGrads: ReturnType<typeof selectiveScanBackward> | null = null;
    /** dout (seeded normal values) and, where affordable, lib's CPU backward for it. */
    const gradientOfOut = (): Tensor => {
      if (dout === null) {
        const rng = new Rng(11 + l);
        const x = new Float32Array(b * d * l);
        for (let i = 0; i < x.length; i++) x[i] = rng.normal();
        dout = { shape: [b, d, l], data: x };
        if (work <= CPU_BACKWARD_LIMIT) {
          const t0 = performance.now();
          cpuGrads = selectiveScanBackward(selectiveScanForwardTrain(args).cache, dout);
          entry.cpuBackwardSeconds = (performance.now() - t0) / 1000;
        }
      }
      return dout;
    };
    const GRADS = ["du", "ddelta", "dA", "dB", "dC", "dD", "dz", "ddeltaBias"] as const;
    /** The gradients' errors against the CPU backward, or (without it) whether all are finite. */
    const checkGradients = (grads: FusedScanGrads, row: Record<string, unknown>): string => {
      if (cpuGrads) {
        const errs: Record<string, number> = {};
        for (const k of GRADS) errs[k] = relL2(grads[k]!.data, cpuGrads[k]!.data);
        row.relL2VsCpu = errs;
        return `worst rel L2 err vs CPU backward ${Math.max(...Object.values(errs)).toExponential(2)}`;
      }
      row.allFinite = GRADS.every((k) => grads[k]!.data.every(Number.isFinite));
      return `not checked against the CPU backward (too slow at this size); every gradient finite: ${row.allFinite ? "yes" : "NO"}`;
    };
    for (const T of BACKWARD_CHUNKS) {
      const row: Record<string, unknown> = { chunk: T, superChunk: 16 };
      backward.push(row);
      // inputs and dout uploaded twice (timed and traced runs), gradients read back once
      if (!affordable(`gpu.js backward T=${T}`, 1.3 * uploadEstimate() * 6, row)) continue;
      gradientOfOut();
      const scanner = createFusedGpuScan({
        mode,
        chunkSize: T,
        superChunk: 16,
        errorScopes: false,
      });
      try {
        const up = await scanner.upload(args);
        const g = await scanner.uploadGradient(up, gradientOfOut());
        const o = await scanner.forward(up);
        const checkedBackward = async () =>
          scanner.readGradients(up, await scanner.backward(up, o, g));
        const grads = webgpu
          ? await withDeviceErrorScopes("scan-webgpu", checkedBackward)
          : await checkedBackward();
        const checked = checkGradients(grads, row);
        row.backward = await time(webgpu ? 10 : 1, async () => {
          await scanner.backward(up, o, g);
          await idle();
        });
        row.forwardAndBackward = await time(webgpu ? 5 : 1, async () => {
          const o2 = await scanner.forward(up);
          await scanner.backward(up, o2, g);
          await idle();
        });
        scanner.free(up, g);
        const bw = (row.backward as Timing).seconds;
        say(
          `gpu.js backward T=${String(T).padEnd(2)}: ${fmt(bw)}${overBackwardHbm(bw)}; forward + backward ${fmt((row.forwardAndBackward as Timing).seconds)}; ${checked}`,
        );
      } catch (e) {
        row.error = (e as Error).message;
        say(`gpu.js backward T=${T}: failed: ${(e as Error).message.split("\n")[0]}`);
      } finally {
        scanner.destroy();
      }
      flush();
      if (row.error) continue;
      const traceRow: Record<string, unknown> = {};
      if (!affordable("    per-kernel trace", 1.3 * uploadEstimate() * 2.5, traceRow)) {
        row.perKernelSkipped = traceRow.skipped;
        continue;
      }
      const tracedB = createFusedGpuScan({
        mode,
        chunkSize: T,
        superChunk: 16,
        errorScopes: false,
        trace: true,
      });
      try {
        const up3 = await tracedB.upload(args);
        const g3 = await tracedB.uploadGradient(up3, gradientOfOut());
        const o3 = await tracedB.forward(up3);
        await tracedB.backward(up3, o3, g3);
        tracedB.takeTrace();
        await tracedB.backward(up3, o3, g3);
        row.perKernel = tracedB.takeTrace();
        tracedB.free(up3, g3);
        say(
          `    per kernel (each waited for): ${(row.perKernel as { kernel: string; seconds: number }[]).map((k) => `${k.kernel} ${fmt(k.seconds)}`).join(", ")}`,
        );
      } catch (e) {
        row.perKernelError = (e as Error).message;
        say(`    per-kernel trace: failed: ${(e as Error).message.split("\n")[0]}`);
      } finally {
        tracedB.destroy();
      }
      flush();
    }

    // the hand-written WGSL backward from the same uploads: its training forward (y and the state
    // entering every chunk), then the backward's two kernels
    const wgslBackward: Record<string, unknown>[] = [];
    entry.wgslBackward = wgslBackward;
    for (const tiling of webgpu ? WGSL_BACKWARD_TILINGS : []) {
      const row: Record<string, unknown> = { asked: tiling };
      wgslBackward.push(row);
      const label = `WGSL backward ${tiling.channels} channels × ${tiling.lanes} lanes, chunks of ${tiling.chunk}`;
      // inputs and dout uploaded, the gradients (3 b·d·l values) read back once
      if (!affordable(label, 1.3 * uploadEstimate() * 5, row)) continue;
      const scanner = createWgslScan(tiling);
      try {
        const up = await scanner.upload(args);
        const g = await scanner.uploadGradient(up, gradientOfOut());
        const grads = await withDeviceErrorScopes("scan-webgpu", async () => {
          const saved = await scanner.forwardTrain(up);
          return scanner.readGradients(up, await scanner.backward(up, saved, g));
        });
        const checked = checkGradients(grads, row);
        const saved = await scanner.forwardTrain(up);
        row.forwardTrain = await time(20, async () => {
          await scanner.forwardTrain(up);
          await idle();
        });
        row.backward = await time(20, async () => {
          await scanner.backward(up, saved, g);
          await idle();
        });
        row.backwardBackToBack = await timeBackToBack(
          5,
          BACK_TO_BACK,
          () => scanner.backward(up, saved, g),
          idle,
        );
        row.forwardAndBackward = await time(10, async () => {
          await scanner.backward(up, await scanner.forwardTrain(up), g);
          await idle();
        });
        row.plan = scanner.plan();
        row.backwardPlan = scanner.backwardPlan();
        scanner.free(up, g);
        const t = (key: string) => (row[key] as Timing).seconds;
        const p = row.backwardPlan as WgslBackwardPlan;
        say(
          `WGSL backward ${p.channels} ch × ${p.lanes} lanes, T=${p.chunk} (∂B, ∂C shuffled over ${p.shuffled} ch, subgroups of ${p.subgroupSize}): ${fmt(t("backward"))}${overBackwardHbm(t("backward"))}, back to back ${fmt(t("backwardBackToBack"))}${overBackwardHbm(t("backwardBackToBack"))}; training forward ${fmt(t("forwardTrain"))}; forward + backward ${fmt(t("forwardAndBackward"))}; ${checked}`,
        );
      } catch (e) {
        row.error = (e as Error).message;
        say(`${label}: failed: ${(e as Error).message.split("\n")[0]}`);
      } finally {
        scanner.destroy();
      }
      flush();
    }

    // the shipped scans: every call uploads and reads back
    const shipped: Record<string, unknown>[] = [];
    entry.shipped = shipped;
    for (const variant of ["naive", "chunked"] as const) {
      if (work > (variant === "naive" ? NAIVE_LIMIT : SHIPPED_LIMIT)) continue;
      if (process.env.SCAN_WEBGPU_SHIPPED === "0") continue;
      const row: Record<string, unknown> = { variant };
      shipped.push(row);
      // a call of the chunked scan took about 1.5 uploads on the H100, the naive one 5
      const perCall = uploadEstimate() * (variant === "naive" ? 5 : 1.5);
      if (!affordable(`gpu.js ${variant} (as shipped)`, 1.3 * perCall * 3, row)) continue;
      const scanner = createGpuSelectiveScanAsync({
        mode,
        variant,
        ...(variant === "chunked" ? { chunkSize: 16 } : {}),
      });
      try {
        const first = await scanner.run(args);
        Object.assign(row, check(first.out.data));
        row.endToEnd = await time(2, () => scanner.run(args));
        say(`gpu.js ${variant} (as shipped, end to end): ${fmt((row.endToEnd as Timing).seconds)}`);
      } catch (e) {
        row.error = (e as Error).message;
        say(`gpu.js ${variant}: failed: ${(e as Error).message.split("\n")[0]}`);
      } finally {
        scanner.destroy();
      }
      flush();
    }
    run.endSize(entry, webgpu);
  }
  if (webgpu) await releaseWebGpu();
  flush();
}

if (require.main === module) runGpuBenchMain(main);
