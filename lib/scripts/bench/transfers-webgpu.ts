/**
 * Benchmark: moving a scan's inputs to the GPU and its output back through Dawn, path by path,
 * for one (b, d, l) float32 tensor (default the (8, 2048, 4096) inputs of the scan benchmark's
 * target size, 268 MB): the host-side argument check (all values, and without the values of u,
 * delta and z, which the webgpu scanner checks on the device: timed too), the "staged" upload
 * (through staging buffers the device keeps) at three slice sizes, writeBuffer whole and in
 * slices, buffers mapped at creation, and read-back at three slice sizes. Each path is timed until
 * the GPU is idle (median of TRANSFERS_REPEATS, default 3) and printed with its rate. Then, with
 * the tensor on the device, what a trivial gpu.js kernel costs there (median of 20 runs, each until
 * the GPU is idle): a copy with a 1-D, 2-D and 3-D output (gpu.js runs workgroups of 64 and 8 × 8),
 * reading one value and writing one per thread, so its time against the bytes it moves is gpu.js's
 * own overhead on this device, below which no gpu.js scan kernel can go; and the same copies
 * submitted 20 at a time and waited for once (what a copy costs when the wait does not count).
 * Env: TRANSFERS_SIZE ("b,d,l,n", default "8,2048,4096,16"), TRANSFERS_REPEATS, TRANSFERS_OUT
 * (default .bench/transfers-webgpu).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { Rng } from "../../dist/rng";
import { randomSelectiveScanArgs } from "../../dist/scan/random-args";
import { checkInputDependentScanArgs } from "../../dist/selective/scan-checks";
import {
  createWebGpuBuffer,
  type WebGpuUpload,
  firstNonFiniteOnDevice,
  installWebGpu,
  readWebGpuBuffer,
  releaseWebGpu,
  reshapeWebGpuResult,
  webGpuIdle,
} from "../../dist/gpu/webgpu";
import { loadGpuJs } from "../../dist/gpu/backends";
import { runGpuBenchMain, time, timeBackToBack } from "../bench-gpu-common";
import { formatSeconds as fmt } from "../bench-scan-common";

const MB = 2 ** 20;

async function main(): Promise<void> {
  const outDir = process.env.TRANSFERS_OUT ?? path.join(".bench", "transfers-webgpu");
  mkdirSync(outDir, { recursive: true });
  const repeats = Number(process.env.TRANSFERS_REPEATS ?? 3);
  const [b, d, l, n] = (process.env.TRANSFERS_SIZE ?? "8,2048,4096,16").split(",").map(Number);
  const info = await installWebGpu();
  const results: Record<string, unknown> = {
    date: new Date().toISOString(),
    adapter: info.adapter,
  };
  const rows: Record<string, unknown>[] = [];
  results.rows = rows;
  const say = (s: string) => console.log(s);
  say(`Transfers through Dawn: ${info.adapter}; (b, d, l, n) = (${[b, d, l, n].join(", ")})`);
  const args = randomSelectiveScanArgs(new Rng(7 + l), { batch: b, dim: d, length: l, dstate: n });
  const data = args.u.data as Float32Array;
  const bytes = data.byteLength;
  const row = (name: string, t: { seconds: number }, moved = bytes) => {
    rows.push({ name, seconds: t.seconds, bytes: moved });
    const rate = moved > 0 ? `  ${(moved / t.seconds / 1e9).toFixed(2)} GB/s` : "";
    say(`  ${name.padEnd(44)} ${fmt(t.seconds).padStart(9)}${rate}`);
  };
  row(
    "argument check (u, delta, z, B, C, ...)",
    await time(repeats, async () => checkInputDependentScanArgs("check", args)),
    3 * bytes,
  );
  // what the webgpu scanner checks on the host: everything but the values of u, delta and z
  row(
    "argument check without u, delta, z values",
    await time(repeats, async () =>
      checkInputDependentScanArgs("check", args, { bdlValues: false }),
    ),
    0,
  );
  const scratch = new Float32Array(data.length);
  row(
    "host copy of one tensor (Float32Array.set)",
    await time(repeats, async () => scratch.set(data)),
  );
  const size = [l, d, b];
  const uploads: [string, WebGpuUpload, number | undefined][] = [
    ["staged, 4 MB slices", "staged", 4 * MB],
    ["staged, 16 MB slices (default)", "staged", undefined],
    ["staged, 64 MB slices", "staged", 64 * MB],
    ["writeBuffer, whole", "write", undefined],
    ["writeBuffer, 16 MB slices", "write", 16 * MB],
    ["mapped at creation", "mapped", undefined],
  ];
  for (const [label, how, slice] of uploads) {
    const t = await time(repeats, async () => {
      const r = (await createWebGpuBuffer(data, size, how, slice)) as { delete(): void };
      await webGpuIdle();
      r.delete();
    });
    row(`upload: ${label}`, t);
  }
  const onDevice = await createWebGpuBuffer(data, size);
  await webGpuIdle();
  // the scanner's check of u, delta and z on the device: three tensors of this size
  row(
    "value check on the device (3 tensors)",
    await time(repeats, async () => {
      const found = await firstNonFiniteOnDevice([onDevice, onDevice, onDevice]);
      if (found.some((i) => i >= 0)) throw new Error(`a non-finite value found: ${found}`);
    }),
    3 * bytes,
  );
  for (const slice of [4 * MB, undefined, 64 * MB]) {
    let back: Float32Array | null = null;
    const t = await time(repeats, async () => {
      back = await readWebGpuBuffer(onDevice, data.length, slice);
    });
    let bad = 0;
    for (let i = 0; i < data.length; i++) if (back![i] !== data[i]) bad++;
    row(
      `read-back: ${slice === undefined ? "16 MB slices (default)" : `${slice / MB} MB slices`}${bad ? ` (${bad} WRONG)` : ""}`,
      t,
    );
  }
  // gpu.js kernels on the device: copies of the tensor, 1-D, 2-D and 3-D
  const { GPU } = loadGpuJs() as unknown as {
    GPU: new (o: object) => {
      createKernel(src: string, o: object): (...a: unknown[]) => Promise<{ delete(): void }>;
      destroy(): void;
    };
  };
  const gpu = new GPU({ mode: "webgpu" });
  const shapes: [string, number[], string][] = [
    ["1-D [b·d·l]", [b * d * l], "return a[this.thread.x];"],
    ["2-D [l, b·d]", [l, b * d], "return a[this.thread.y][this.thread.x];"],
    ["3-D [l, d, b]", [l, d, b], "return a[this.thread.z][this.thread.y][this.thread.x];"],
  ];
  for (const [label, output, body] of shapes) {
    const arg = reshapeWebGpuResult(onDevice, output);
    const k = gpu.createKernel(`function (a) { ${body} }`, {
      output,
      pipeline: true,
      immutable: false,
      tactic: "precision",
      precision: "single",
    });
    await k(arg);
    await webGpuIdle();
    const t = await time(20, async () => {
      await k(arg);
      await webGpuIdle();
    });
    row(`gpu.js copy kernel, output ${label}`, t, 2 * bytes);
    // 20 copies submitted one after another, waited for once: the kernel without the wait
    const b2b = await timeBackToBack(5, 20, () => k(arg), webGpuIdle);
    row(`  the same, 20 back to back, per copy`, b2b, 2 * bytes);
  }
  gpu.destroy();
  writeFileSync(path.join(outDir, "results.json"), JSON.stringify(results, null, 1));
  await releaseWebGpu();
}

runGpuBenchMain(main);
