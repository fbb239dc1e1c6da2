/**
 * The shapes of the measured gpu.js and WGSL scan times that lib/gpu-run/summarize.mjs writes
 * into `./measured-scans.ts` from the raw results of lib/scripts/bench/scan-webgpu.ts.
 *
 * Each run says where it ran: "real GPU" rows come from a lent NVIDIA GPU (H200 or H100, named in
 * each run) through gpu.js's webgpu backend (Dawn on Vulkan); "CPU emulation" rows from gpu.js's
 * headlessgl backend on Mesa's llvmpipe software rasteriser. gpu.js times include uploading the
 * inputs and reading out back (every gpu.js call does both); PyTorch CUDA times
 * (selective_scan_ref, inputs already on the GPU) and the HBM limit (an ideal fused kernel's
 * bytes, 4·(4·b·d·l + 2·b·n·l), at the measured device-to-device copy bandwidth) come from the
 * same machine and run. Sizes are (b, d, l, n).
 */

/** One gpu.js scan measurement. seconds null: it did not run (note says why). */
export interface MeasuredScanRow {
  size: [number, number, number, number];
  backend: string;
  variant: "naive" | "chunked";
  seconds: number | null;
  /** max |out − CPU reference| / max(1, max |CPU reference|). */
  relErrVsCpu: number | null;
  torchCudaSeconds: number | null;
  hbmLimitSeconds: number | null;
  note: string;
}

/** One benchmark run. */
export interface MeasuredScanRun {
  /** The raw results file in the repository. */
  source: string;
  date: string;
  machine: "real GPU" | "CPU emulation (Mesa llvmpipe)";
  adapter: string;
  torch: string | null;
  driver: string | null;
  /** Device-to-device copy bandwidth (bytes read + written per second), or null. */
  hbmBytesPerSecond: number | null;
  rows: MeasuredScanRow[];
}

/**
 * One forward scan on webgpu, data on the device (seconds; null: not measured): the forward
 * alone (first submit to GPU done, median), the same back to back (ten forwards submitted,
 * waited for once, per forward), the kernel time the targets use (back to back where measured),
 * upload, read-back, end to end, and the output's relative L2 error against float64.
 */
export interface MeasuredForward {
  forwardSeconds: number;
  forwardBackToBackSeconds: number | null;
  kernelSeconds: number;
  uploadSeconds: number | null;
  readSeconds: number | null;
  endToEndSeconds: number | null;
  relL2: number | null;
}

/** One size of a run of today's benchmark (seconds; null: not measured). */
export interface MeasuredGpuSize {
  /** The run it comes from: an index into {@link MeasuredGpuRun.runs}. */
  run: number;
  /** The run the anchors (official, torchRef) come from: run, or another run where this one lost them. */
  anchorsRun: number;
  /** The run the backward comes from: run, or another run where this one lost it. */
  backwardRun: number;
  /** The run the shipped scans' times come from: run, or another run where this one lacks them. */
  shippedRun: number;
  size: [number, number, number, number];
  /** The ideal fused kernel's bytes at the measured copy bandwidth. */
  hbmLimitSeconds: number | null;
  /** b·d·l·n exponentials at 16 per SM per clock. */
  expFloorSeconds: number | null;
  /** The bytes an ideal fused backward moves, at the copy bandwidth. */
  backwardHbmLimitSeconds: number | null;
  /** Mamba's official CUDA forward (fp32), CUDA events; error: relative L2 against float64. */
  official: { seconds: number; relL2: number } | null;
  /** PyTorch selective_scan_ref (fp32, inputs on the GPU). */
  torchRef: { seconds: number; relL2: number } | null;
  /** The fused gpu.js scan per chunk length. */
  fused: (MeasuredForward & { chunk: number })[];
  bestChunk: number | null;
  /**
   * lib's hand-written WGSL scan (createWgslScan) from the same uploads in the same run, per
   * tiling (as planned for this size: channels per workgroup, lanes per channel, chunk), timed as
   * the fused forward; upload, read-back and end to end only for the first tiling. Empty where
   * the run did not measure it.
   */
  wgsl: (MeasuredForward & { channels: number; lanes: number; chunk: number })[];
  /** The fastest of wgsl (kernel time): an index into it, or null. */
  bestWgsl: number | null;
  /** The fused backward (kernels alone) per chunk length; error: worst gradient vs the CPU backward. */
  backward: {
    chunk: number;
    seconds: number;
    forwardAndBackwardSeconds: number | null;
    worstRelL2VsCpu: number | null;
  }[];
  bestBackwardChunk: number | null;
  /**
   * lib's hand-written WGSL backward (createWgslScan's backward) per tiling, as planned for this
   * size (how ∂B, ∂C are summed over the channels: every "slice" positions in workgroup memory,
   * in runs before the shuffles, or by subgroup shuffles over "shuffled" channels, then in
   * workgroup memory once a chunk; the other null): its two kernels one at a time
   * and back to back, the kernel time the target uses (back to back where measured), its training
   * forward, forward and backward, and the worst gradient's relative L2 error against lib's CPU
   * backward (null where that was too slow; allFinite then says whether every gradient was finite).
   */
  wgslBackward: {
    channels: number;
    lanes: number;
    chunk: number;
    slice: number | null;
    shuffled: number | null;
    backwardSeconds: number;
    backwardBackToBackSeconds: number | null;
    kernelSeconds: number;
    forwardTrainSeconds: number | null;
    forwardAndBackwardSeconds: number | null;
    worstRelL2VsCpu: number | null;
    allFinite: boolean | null;
  }[];
  /** The fastest of wgslBackward (kernel time): an index into it, or null. */
  bestWgslBackward: number | null;
  /** The shipped scans, end to end (each call uploads and reads back). */
  chunkedEndToEndSeconds: number | null;
  naiveEndToEndSeconds: number | null;
}

/** A run of today's benchmark (lib/scripts/bench/scan-webgpu.ts) on a real GPU. */
export interface MeasuredGpuRunInfo {
  source: string;
  date: string;
  device: string;
  driver: string | null;
  adapter: string;
  torch: string | null;
  hbmBytesPerSecond: number | null;
  expsPerSecond: number | null;
  /** One empty submit until the GPU reports it done (median). */
  submitSeconds: number | null;
}

/**
 * One of the targets the fused scan was built against, judged on the measured numbers:
 * measured / bound = ratio, met when ratio <= limit; null where a side was not measured. The
 * bounds: the HBM limit, Mamba's CUDA kernel, or the hand-written WGSL scan through the same
 * Dawn: lib's (createWgslScan) measured in the same run where there is one, else the figures of
 * an NVIDIA H200 of 2026-12-05 (note says so); its end to end is its upload + dispatch +
 * read-back.
 */
export interface MeasuredGpuTarget {
  target: string;
  size: [number, number, number, number];
  measuredSeconds: number | null;
  boundSeconds: number | null;
  ratio: number | null;
  limit: number;
  met: boolean | null;
  /** Where the bound and the measurement come from different cards. */
  note: string | null;
}

/** The real-GPU runs of the fused scan, merged: each size from the last run that measured it. */
export interface MeasuredGpuRun {
  runs: MeasuredGpuRunInfo[];
  sizes: MeasuredGpuSize[];
  targets: MeasuredGpuTarget[];
}
