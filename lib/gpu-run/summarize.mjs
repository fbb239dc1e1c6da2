#!/usr/bin/env node
// Writes lib/src/gpu/measured-scans.ts, the typed summary of the scan benchmark's results that
// lessons print, from the raw results JSON of lib/scripts/bench/scan-webgpu.ts:
//   node lib/gpu-run/summarize.mjs SHIPPED.json [EMULATED.json] --run RUN.json [--run RUN2.json ...]
// SHIPPED.json: the 2026-12-01 run of the shipped naive and chunked scans on an H200 (the
// benchmark's earlier format); EMULATED.json (optional): the same on Mesa llvmpipe; RUN.json: runs
// of today's benchmark (the fused scan with data on the device, its backward, the anchors),
// merged as MEASURED_GPU_RUN: each size from the last run that measured the fused forward there
// (else the last run that lists it), with the run it came from; and the issue's targets judged
// against them (a target whose numbers were not measured is reported as not measured).
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const argv = process.argv.slice(2);
const runFiles = [];
const positional = [];
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === "--run") runFiles.push(argv[++i]);
  else positional.push(argv[i]);
}
const [gpuFile, emulatedFile] = positional;
if (!gpuFile || runFiles.some((f) => !f)) {
  console.error(
    "usage: node lib/gpu-run/summarize.mjs SHIPPED.json [EMULATED.json] --run RUN.json [--run RUN2.json ...]",
  );
  process.exit(2);
}

function summary(file, machine) {
  const r = JSON.parse(readFileSync(file, "utf8"));
  return {
    source: path.relative(repo, path.resolve(file)),
    date: r.date.slice(0, 10),
    machine,
    adapter: r.webgpu?.adapter ?? "none",
    torch: r.torch ? `${r.torch.torch} (CUDA ${r.torch.cuda})` : null,
    driver: r.torch?.driver ?? null,
    hbmBytesPerSecond: r.hbmBytesPerSecond,
    rows: r.sizes.flatMap((s) =>
      s.gpujs.map((g) => ({
        size: s.size,
        backend: g.backend,
        variant: g.variant,
        seconds: g.seconds,
        relErrVsCpu: g.relErrVsCpu ?? null,
        torchCudaSeconds: s.torch.seconds ?? null,
        hbmLimitSeconds: s.hbmLimitSeconds,
        note: g.note,
      })),
    ),
  };
}

const runs = [summary(gpuFile, "real GPU")];
if (emulatedFile) runs.push(summary(emulatedFile, "CPU emulation (Mesa llvmpipe)"));

const sec = (t) => (t && typeof t.seconds === "number" ? t.seconds : null);

function runSummary(file) {
  const r = JSON.parse(readFileSync(file, "utf8"));
  const size = (s) => {
    const ok = (s.fused ?? []).filter((f) => f.forward);
    // the kernel's time: back to back where the run measured it (the GPU never idle between
    // runs, as in CUDA-event timing), else each forward waited for
    const kernel = (f) => sec(f.forwardBackToBack) ?? f.forward.seconds;
    const best = ok.sort((a, b) => kernel(a) - kernel(b))[0] ?? null;
    const bw = (s.backward ?? []).filter((f) => f.backward);
    const bestBw = bw.sort((a, b) => a.backward.seconds - b.backward.seconds)[0] ?? null;
    const shipped = (v) => (s.shipped ?? []).find((x) => x.variant === v) ?? null;
    const wgsl = (s.wgsl ?? [])
      .filter((w) => w.forward && w.plan)
      .map((w) => ({
        channels: w.plan.channels,
        lanes: w.plan.lanes,
        chunk: w.plan.chunk,
        forwardSeconds: w.forward.seconds,
        forwardBackToBackSeconds: sec(w.forwardBackToBack),
        kernelSeconds: kernel(w),
        uploadSeconds: sec(w.upload),
        readSeconds: sec(w.read),
        endToEndSeconds: sec(w.endToEnd),
        relL2: w.relL2 ?? null,
      }));
    const fastestWgsl = [...wgsl].sort((a, b) => a.kernelSeconds - b.kernelSeconds)[0] ?? null;
    const wgslBackward = (s.wgslBackward ?? [])
      .filter((w) => w.backward && w.backwardPlan)
      .map((w) => ({
        channels: w.backwardPlan.channels,
        lanes: w.backwardPlan.lanes,
        chunk: w.backwardPlan.chunk,
        // how ∂B, ∂C were summed over the channels: every `slice` positions in workgroup memory
        // (runs before 2026-12-07's shuffles), or by shuffles over `shuffled` channels and then
        // in workgroup memory once a chunk
        slice: w.backwardPlan.slice ?? null,
        shuffled: w.backwardPlan.shuffled ?? null,
        backwardSeconds: w.backward.seconds,
        backwardBackToBackSeconds: sec(w.backwardBackToBack),
        // as the forward's: back to back where measured
        kernelSeconds: sec(w.backwardBackToBack) ?? w.backward.seconds,
        forwardTrainSeconds: sec(w.forwardTrain),
        forwardAndBackwardSeconds: sec(w.forwardAndBackward),
        worstRelL2VsCpu: w.relL2VsCpu ? Math.max(...Object.values(w.relL2VsCpu)) : null,
        allFinite: w.allFinite ?? null,
      }));
    const fastestWgslBackward =
      [...wgslBackward].sort((a, b) => a.kernelSeconds - b.kernelSeconds)[0] ?? null;
    const anchor = (a) =>
      a && typeof a.seconds === "number" ? { seconds: a.seconds, relL2: a.relL2 } : null;
    return {
      run: -1,
      anchorsRun: -1,
      backwardRun: -1,
      shippedRun: -1,
      size: s.size,
      hbmLimitSeconds: s.hbmLimitSeconds,
      expFloorSeconds: s.expFloorSeconds,
      backwardHbmLimitSeconds: s.hbmBackwardLimitSeconds,
      official: anchor(s.anchors?.official),
      torchRef: anchor(s.anchors?.torchRef),
      fused: ok.map((f) => ({
        chunk: f.chunk,
        forwardSeconds: f.forward.seconds,
        forwardBackToBackSeconds: sec(f.forwardBackToBack),
        kernelSeconds: kernel(f),
        uploadSeconds: sec(f.upload),
        readSeconds: sec(f.read),
        endToEndSeconds: sec(f.endToEnd),
        relL2: f.relL2 ?? null,
      })),
      bestChunk: best ? best.chunk : null,
      wgsl,
      bestWgsl: fastestWgsl ? wgsl.indexOf(fastestWgsl) : null,
      backward: bw.map((f) => ({
        chunk: f.chunk,
        seconds: f.backward.seconds,
        forwardAndBackwardSeconds: sec(f.forwardAndBackward),
        worstRelL2VsCpu: f.relL2VsCpu ? Math.max(...Object.values(f.relL2VsCpu)) : null,
      })),
      bestBackwardChunk: bestBw ? bestBw.chunk : null,
      wgslBackward,
      bestWgslBackward: fastestWgslBackward ? wgslBackward.indexOf(fastestWgslBackward) : null,
      chunkedEndToEndSeconds: sec(shipped("chunked")?.endToEnd),
      naiveEndToEndSeconds: sec(shipped("naive")?.endToEnd),
    };
  };
  return {
    source: path.relative(repo, path.resolve(file)),
    date: r.date.slice(0, 10),
    device: r.torch?.device ?? "unknown",
    driver: r.torch?.driver ?? null,
    adapter: r.webgpu?.adapter ?? "none",
    torch: r.torch ? `${r.torch.torch} (CUDA ${r.torch.cuda})` : null,
    hbmBytesPerSecond: r.hbmBytesPerSecond ?? null,
    expsPerSecond: r.expsPerSecond ?? null,
    submitSeconds: r.submitSeconds ?? null,
    sizes: r.sizes.map(size),
  };
}

// The hand-written WGSL scan (one (b, d) channel block per workgroup, state in registers, next
// chunk prefetched into registers) through the same Dawn, measured on an NVIDIA H200 (driver
// 580.159.04) on 2026-12-05 when the targets were set: dispatch alone, upload and read-back. The
// WGSL targets use these only at a size where no run measured lib's WGSL scan (createWgslScan)
// with the fused one.
const WGSL_REFERENCE = [
  { size: [1, 256, 1024, 16], dispatchSeconds: 148e-6, uploadSeconds: 1.7e-3, readSeconds: 1.3e-3 },
  { size: [2, 512, 4096, 16], dispatchSeconds: 442e-6, uploadSeconds: 20e-3, readSeconds: 6e-3 },
  {
    size: [1, 1024, 16384, 16],
    dispatchSeconds: 1.73e-3,
    uploadSeconds: 69e-3,
    readSeconds: 52e-3,
  },
  {
    size: [8, 2048, 4096, 16],
    dispatchSeconds: 1.13e-3,
    uploadSeconds: 271e-3,
    readSeconds: 190e-3,
  },
];
const TARGET_SIZE = [8, 2048, 4096, 16];

/**
 * The runs merged: each size from the last run that measured its fused forward. Where that run
 * lost the anchors (official kernel, PyTorch reference) or the backward at a size, or did not run
 * the shipped scans there, and another run measured them, they come from that run, which
 * anchorsRun/backwardRun/shippedRun name.
 */
function merge(files) {
  const hasShipped = (s) => s.chunkedEndToEndSeconds !== null || s.naiveEndToEndSeconds !== null;
  const takeShipped = (into, from, run) => {
    into.chunkedEndToEndSeconds = from.chunkedEndToEndSeconds;
    into.naiveEndToEndSeconds = from.naiveEndToEndSeconds;
    into.shippedRun = run;
  };
  const takeAnchors = (into, from, run) => {
    into.official = from.official;
    into.torchRef = from.torchRef;
    into.anchorsRun = run;
  };
  // gpu.js's and the WGSL backward travel together: one run measured both
  const takeBackward = (into, from, run) => {
    into.backward = from.backward;
    into.bestBackwardChunk = from.bestBackwardChunk;
    into.wgslBackward = from.wgslBackward;
    into.bestWgslBackward = from.bestWgslBackward;
    into.backwardRun = run;
  };
  const runs = [];
  const bySize = new Map();
  for (const file of files) {
    const { sizes, ...info } = runSummary(file);
    const index = runs.push(info) - 1;
    for (const s of sizes) {
      const key = s.size.join();
      const had = bySize.get(key);
      if (had && s.fused.length === 0 && had.fused.length > 0) {
        // this run did not measure the fused scan here: it may still fill what the kept one lost
        if (!had.official && !had.torchRef && (s.official || s.torchRef)) {
          takeAnchors(had, s, index);
        }
        if (had.backward.length === 0 && s.backward.length > 0) takeBackward(had, s, index);
        if (!hasShipped(had) && hasShipped(s)) takeShipped(had, s, index);
        continue;
      }
      const next = { ...s, run: index, anchorsRun: index, backwardRun: index, shippedRun: index };
      if (had && !hasShipped(s) && hasShipped(had)) takeShipped(next, had, had.shippedRun);
      if (had && !s.official && !s.torchRef && (had.official || had.torchRef)) {
        takeAnchors(next, had, had.anchorsRun);
      }
      if (had && s.backward.length === 0 && had.backward.length > 0) {
        takeBackward(next, had, had.backwardRun);
      }
      bySize.set(key, next);
    }
  }
  const work = (s) => s.size.reduce((p, v) => p * v, 1);
  const sizes = [...bySize.values()].sort((a, b) => work(a) - work(b) || a.size[0] - b.size[0]);
  // drop runs nothing comes from
  const used = [
    ...new Set(sizes.flatMap((s) => [s.run, s.anchorsRun, s.backwardRun, s.shippedRun])),
  ].sort((a, b) => a - b);
  return {
    runs: used.map((i) => runs[i]),
    sizes: sizes.map((s) => ({
      ...s,
      run: used.indexOf(s.run),
      anchorsRun: used.indexOf(s.anchorsRun),
      backwardRun: used.indexOf(s.backwardRun),
      shippedRun: used.indexOf(s.shippedRun),
    })),
  };
}

/** The issue's targets against the merged sizes (ratios: measured over the bound; met: ratio <= limit). */
function judge(merged) {
  const best = (s) => s.fused.find((f) => f.chunk === s.bestChunk) ?? null;
  const bestBw = (s) => s.backward.find((f) => f.chunk === s.bestBackwardChunk) ?? null;
  const find = (size) => merged.sizes.find((s) => s.size.join() === size.join()) ?? null;
  const ratio = (a, b) => (typeof a === "number" && typeof b === "number" && b > 0 ? a / b : null);
  const row = (target, size, measured, bound, limit, boundDevice = null) => {
    const r = ratio(measured, bound);
    const s = find(size);
    const device = s ? merged.runs[s.run].device : null;
    // a bound measured on another card than the measurement: said, not hidden
    const note =
      r !== null && boundDevice && !device.includes(boundDevice)
        ? `bound measured on an NVIDIA ${boundDevice}, this on an ${device}`
        : null;
    return {
      target,
      size,
      measuredSeconds: measured ?? null,
      boundSeconds: bound ?? null,
      ratio: r,
      limit,
      met: r === null ? null : r <= limit,
      note,
    };
  };
  const t = find(TARGET_SIZE);
  const rows = [
    row(
      "fused forward kernel within 5× of the HBM limit",
      TARGET_SIZE,
      t && best(t)?.kernelSeconds,
      t?.hbmLimitSeconds,
      5,
    ),
    // "faster than": the ratio must stay under 1
    row(
      "fused forward kernel faster than Mamba's fp32 CUDA kernel",
      TARGET_SIZE,
      t && best(t)?.kernelSeconds,
      t?.official?.seconds,
      1,
    ),
  ];
  if (t && t.anchorsRun !== t.run && rows[1].ratio !== null) {
    const a = merged.runs[t.anchorsRun];
    rows[1].note = `the official kernel measured in another run: ${a.device}, ${a.date} (${a.source})`;
  }
  // the WGSL bounds: lib's WGSL scan measured in the same run where there is one (its fastest
  // tiling's kernel; its end to end: that kernel + its upload + read-back), else the H200 figures
  const wgslBounds = [];
  for (const s of merged.sizes) {
    const w = s.bestWgsl === null ? null : s.wgsl[s.bestWgsl];
    const timed = s.wgsl.find((x) => x.uploadSeconds !== null && x.readSeconds !== null);
    if (w) {
      wgslBounds.push({
        size: s.size,
        dispatch: w.kernelSeconds,
        endToEnd: timed ? timed.uploadSeconds + w.kernelSeconds + timed.readSeconds : null,
        device: null,
      });
    }
  }
  for (const w of WGSL_REFERENCE) {
    if (wgslBounds.some((b) => b.size.join() === w.size.join())) continue;
    wgslBounds.push({
      size: w.size,
      dispatch: w.dispatchSeconds,
      endToEnd: w.dispatchSeconds + w.uploadSeconds + w.readSeconds,
      device: "H200",
    });
  }
  const work = (size) => size.reduce((p, v) => p * v, 1);
  wgslBounds.sort((a, b) => work(a.size) - work(b.size) || a.size[0] - b.size[0]);
  for (const w of wgslBounds) {
    const s = find(w.size);
    rows.push(
      row(
        "fused forward kernel within 2× of the hand-written WGSL dispatch",
        w.size,
        s && best(s)?.kernelSeconds,
        w.dispatch,
        2,
        w.device,
      ),
    );
  }
  for (const w of wgslBounds) {
    const s = find(w.size);
    rows.push(
      row(
        "end to end within 1.5× of the best WebGPU end to end (WGSL upload + dispatch + read-back)",
        w.size,
        s && best(s)?.endToEndSeconds,
        w.endToEnd,
        1.5,
        w.device,
      ),
    );
  }
  const wgslBw = (s) => (s.bestWgslBackward === null ? null : s.wgslBackward[s.bestWgslBackward]);
  for (const [target, measured] of [
    ["gpu.js backward within 10× of its HBM limit", (s) => bestBw(s)?.seconds],
    ["WGSL backward within 10× of its HBM limit", (s) => wgslBw(s)?.kernelSeconds],
  ]) {
    for (const s of merged.sizes) {
      const r = row(target, s.size, measured(s), s.backwardHbmLimitSeconds, 10);
      if (s.backwardRun !== s.run && r.ratio !== null) {
        const b = merged.runs[s.backwardRun];
        r.note = `the backward measured in another run: ${b.device}, ${b.date} (${b.source})`;
      }
      rows.push(r);
    }
  }
  return rows;
}

const run = runFiles.length > 0 ? merge(runFiles) : null;
if (run) run.targets = judge(run);

const out = `/**
 * Measured gpu.js and WGSL scan times, for lessons to print (generated by
 * lib/gpu-run/summarize.mjs from the raw results of lib/scripts/bench/scan-webgpu.ts; do not edit
 * by hand). What each field means, and where the numbers come from: ./measured-scan-types.ts.
 */
import type { MeasuredGpuRun, MeasuredScanRun } from "./measured-scan-types";

/** The measured runs, the real GPU first. */
export const MEASURED_GPU_SCANS: readonly MeasuredScanRun[] = ${JSON.stringify(runs, null, 2)};

/** The real-GPU measurements of the fused scan, its backward and the anchors. */
export const MEASURED_GPU_RUN: MeasuredGpuRun | null = ${JSON.stringify(run, null, 2)};
`;
const target = path.join(repo, "lib", "src", "gpu", "measured-scans.ts");
writeFileSync(target, out);
console.log(`wrote ${path.relative(repo, target)} (${runs.length} run(s))`);

// The README's real-GPU table, printed for pasting (from the same summary lessons print)
if (run) {
  const fmt = (s) =>
    s === null || s === undefined
      ? "-"
      : s < 1e-3
        ? `${(s * 1e6).toPrecision(3)} µs`
        : s < 1
          ? `${(s * 1e3).toPrecision(3)} ms`
          : `${s.toPrecision(3)} s`;
  const x = (a, b) => (a && b ? `${(a / b).toFixed(1)}×` : "-");
  const several = run.runs.length > 1;
  console.log(
    `\n| (b, d, l, n) |${several ? " run |" : ""} HBM limit | exp floor | Mamba CUDA fp32 | torch ref fp32 | gpu.js fused kernel (T) | one forward, waited for | ÷ HBM | ÷ exp | ÷ CUDA | WGSL kernel (ch × lanes, T) | ÷ HBM | fused ÷ WGSL | upload | read-back | end to end | shipped chunked, end to end | backward (T) | ÷ its HBM | WGSL backward (ch × lanes, T, ∂B ∂C sums) | ÷ its HBM |`,
  );
  console.log(
    `|---|${several ? "---|" : ""}---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|`,
  );
  for (const s of run.sizes) {
    const f = s.fused.find((v) => v.chunk === s.bestChunk) ?? {};
    const b = s.backward.find((v) => v.chunk === s.bestBackwardChunk) ?? {};
    const w = s.bestWgsl === null ? null : s.wgsl[s.bestWgsl];
    const wgslCell = w ? `${fmt(w.kernelSeconds)} (${w.channels} × ${w.lanes}, ${w.chunk})` : "-";
    const r = run.runs[s.run];
    // the run a row comes from; [n]: its anchors or backward from run n (listed below the table)
    const from = (i) => (i === s.run ? "" : ` [${i + 1}]`);
    const wb = s.bestWgslBackward === null ? null : s.wgslBackward[s.bestWgslBackward];
    const wgslBwCell = wb
      ? `${fmt(wb.kernelSeconds)} (${wb.channels} × ${wb.lanes}, ${wb.chunk}, ${wb.slice === null ? `shuffles over ${wb.shuffled}` : `sums every ${wb.slice}`})${from(s.backwardRun)}`
      : "-";
    console.log(
      `| (${s.size.join(", ")}) |${several ? ` ${r.device.replace(/^NVIDIA /, "").split(" ")[0]} ${r.date} [${s.run + 1}] |` : ""} ${fmt(s.hbmLimitSeconds)} | ${fmt(s.expFloorSeconds)} | ${fmt(s.official?.seconds)}${from(s.anchorsRun)} | ${fmt(s.torchRef?.seconds)}${from(s.anchorsRun)} | ${fmt(f.kernelSeconds)} (${s.bestChunk ?? "-"}) | ${fmt(f.forwardSeconds)} | ${x(f.kernelSeconds, s.hbmLimitSeconds)} | ${x(f.kernelSeconds, s.expFloorSeconds)} | ${x(f.kernelSeconds, s.official?.seconds)} | ${wgslCell} | ${x(w?.kernelSeconds, s.hbmLimitSeconds)} | ${x(f.kernelSeconds, w?.kernelSeconds)} | ${fmt(f.uploadSeconds)} | ${fmt(f.readSeconds)} | ${fmt(f.endToEndSeconds)} | ${fmt(s.chunkedEndToEndSeconds)}${from(s.shippedRun)} | ${fmt(b.seconds)} (${s.bestBackwardChunk ?? "-"})${from(s.backwardRun)} | ${x(b.seconds, s.backwardHbmLimitSeconds)} | ${wgslBwCell} | ${x(wb?.kernelSeconds, s.backwardHbmLimitSeconds)} |`,
    );
  }
  console.log("\nTargets:");
  for (const t of run.targets) {
    console.log(
      `- ${t.target} at (${t.size.join(", ")}): ${t.ratio === null ? "not measured" : `${fmt(t.measuredSeconds)} vs ${fmt(t.boundSeconds)} = ${t.ratio.toFixed(2)}× (limit ${t.limit}×): ${t.met ? "met" : "not met"}${t.note ? ` (${t.note})` : ""}`}`,
    );
  }
  run.runs.forEach((r, i) =>
    console.log(`run [${i + 1}]: ${r.source}: ${r.device}, driver ${r.driver}, ${r.date}`),
  );
}
