/**
 * What the two selective-scan benchmarks (`bench/scan.ts` on this machine's CPU and gpu.js
 * backends, `bench/scan-webgpu.ts` on a WebGPU device) share: the sizes' type, the seeded inputs
 * (the same for a given length in both, so their numbers compare), the inputs as float32 files
 * for the PyTorch reference, the error measure and the number formats of their tables.
 *
 * Not a benchmark itself: it lives beside `bench/`, whose every file the bench runner runs.
 */
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import { Rng } from "../dist/rng";
import type { Tensor } from "../dist/tensor";
import type { SelectiveScanArgs } from "../dist/selective/scan";
import { randomSelectiveScanArgs } from "../dist/scan/random-args";

/** A scan size (b, d, l, n). */
export type ScanSize = [number, number, number, number];

/** The benchmarks' inputs for a size: `randomSelectiveScanArgs` seeded with 7 + l. */
export function scanInputs(size: ScanSize): SelectiveScanArgs {
  const [b, d, l, n] = size;
  return randomSelectiveScanArgs(new Rng(7 + l), { batch: b, dim: d, length: l, dstate: n });
}

/**
 * Writes the inputs as raw little-endian float32 files `u, delta, z, A, B, C, D, bias` in `dir`,
 * the layout the PyTorch reference scripts of both benchmarks read.
 */
export function saveScanInputs(dir: string, args: SelectiveScanArgs): void {
  const save = (name: string, t: Tensor | null | undefined): void => {
    const data = t!.data instanceof Float32Array ? t!.data : Float32Array.from(t!.data);
    writeFileSync(
      path.join(dir, name),
      new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    );
  };
  save("u", args.u);
  save("delta", args.delta);
  save("z", args.z);
  save("A", args.A);
  save("B", args.B);
  save("C", args.C);
  save("D", args.D);
  save("bias", args.deltaBias);
}

/** max |a - b| / max(1, max |b|): error relative to the output's scale (NaN counts as Infinity). */
export function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let scale = 1;
  let err = 0;
  for (let i = 0; i < b.length; i++) {
    scale = Math.max(scale, Math.abs(b[i]));
    const e = Math.abs(a[i] - b[i]);
    if (!(e <= err)) err = Number.isNaN(e) ? Infinity : e;
  }
  return err / scale;
}

/** Seconds for a table: µs, ms or s; "-" for not measured. */
export function formatSeconds(s: number | null): string {
  if (s === null) return "-";
  if (s < 1e-3) return `${(s * 1e6).toFixed(1)} µs`;
  if (s < 1) return `${(s * 1000).toFixed(2)} ms`;
  return `${s.toFixed(2)} s`;
}

/** Bytes for a table: kB, MB or GB (powers of 1000). */
export function formatBytes(b: number): string {
  if (b >= 1e9) return `${(b / 1e9).toFixed(2)} GB`;
  if (b >= 1e6) return `${(b / 1e6).toFixed(1)} MB`;
  return `${(b / 1e3).toFixed(1)} kB`;
}
