/**
 * What the real-GPU benchmarks (`bench/scan-webgpu.ts`: Mamba-1's selective scan, `bench/ssd-webgpu.ts`:
 * Mamba-2's chunked SSD) share: a run's results JSON and table, written after every measurement;
 * the time budget, before each part of which the benchmark asks whether it still fits; the device
 * header (the WebGPU adapter and the cost of one submit, PyTorch's CUDA device and the
 * device-to-device copy bandwidth that sets the HBM limit); how a program with its data on the
 * device is timed (upload, kernels, read-back, end to end, each kernel); medians of timed runs;
 * the error measure; calling the PyTorch scripts of `lib/gpu-run/`.
 *
 * Not a benchmark itself: it lives beside `bench/`, whose every file the bench runner runs.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  installWebGpu,
  measureWebGpuSubmit,
  takeUncapturedWebGpuErrors,
  webGpuIdle,
  withDeviceErrorScopes,
} from "../dist/gpu/webgpu";
import { formatSeconds } from "./bench-scan-common";
import { torchPython } from "./bench-python";

/** A median time over `samples` runs. */
export interface Timing {
  seconds: number;
  samples: number;
}

/** The median of some numbers. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Relative L2 error ‖a − b‖ / ‖b‖ (Infinity when a has a non-finite value). */
export function relL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    const e = a[i] - b[i];
    if (!Number.isFinite(a[i])) return Infinity;
    num += e * e;
    den += b[i] * b[i];
  }
  return Math.sqrt(num / den);
}

/** The median time of `repeats` runs of `body` (each awaited). */
export async function time(repeats: number, body: () => Promise<unknown>): Promise<Timing> {
  const xs: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t = performance.now();
    await body();
    xs.push((performance.now() - t) / 1000);
  }
  return { seconds: median(xs), samples: repeats };
}

/**
 * The time of one `run`, submitted `runs` at a time and waited for once (`idle`), the median of
 * `groups` such groups: the GPU never idles between runs, as in a CUDA-event loop, so neither the
 * completion wait nor an idle GPU's clocks count.
 */
export async function timeBackToBack(
  groups: number,
  runs: number,
  run: () => Promise<unknown>,
  idle: () => Promise<void>,
): Promise<Timing> {
  const t = await time(groups, async () => {
    for (let i = 0; i < runs; i++) await run();
    await idle();
  });
  return { seconds: t.seconds / runs, samples: t.samples };
}

/** A script of `lib/gpu-run/` (next to the built `lib/build/`, also where stage.mjs puts it). */
export function gpuRunScript(name: string): string {
  return path.join(__dirname, "..", "gpu-run", name);
}

/** Runs `python script args...` and parses the JSON of its last stdout line. */
export function torchCall(
  python: string,
  script: string,
  args: string[],
  timeoutS: number,
): unknown {
  const what = `${path.basename(script)} ${args[0]}`;
  const r = spawnSync(python, [script, ...args], {
    encoding: "utf8",
    timeout: Math.max(1, Math.round(timeoutS * 1000)),
    maxBuffer: 1 << 24,
  });
  if (r.error) throw new Error(`${what}: ${r.error.message}`);
  if (r.status !== 0) {
    throw new Error(`${what} failed: ${r.stderr.trim().split("\n").slice(-3).join(" | ")}`);
  }
  const lines = r.stdout.trim().split("\n");
  return JSON.parse(lines[lines.length - 1]);
}

/** PyTorch's CUDA device as torch_scan.py's `info` reports it. */
export interface TorchDevice {
  sms?: number;
  smClockMHz?: number | null;
  [k: string]: unknown;
}

/** One benchmark run: its results, table and time budget. */
export interface GpuBenchRun {
  /** The results JSON (sizes: one entry per size, pushed by the benchmark). */
  readonly results: Record<string, unknown> & { sizes: unknown[] };
  /** The Python that runs the PyTorch scripts. */
  readonly python: string;
  /** Prints a line and adds it to the table. */
  say(line: string): void;
  /** Writes results.json and table.txt now. */
  flush(): void;
  /** Seconds since the run started. */
  elapsed(): number;
  /** Seconds left of the budget (Infinity without one), less a margin to write the results. */
  left(): number;
  /**
   * Whether a part estimated to take `estimateS` seconds fits the budget; when not, records why
   * in `into.skipped` and the table (the run is not cut off in the middle of a size).
   */
  affordable(what: string, estimateS: number, into: Record<string, unknown>): boolean;
  /**
   * Ends a size: on webgpu, records the device errors no scope caught in `entry.uncapturedErrors`
   * and the table; writes the results.
   */
  endSize(entry: Record<string, unknown>, webgpu: boolean): void;
}

/**
 * Starts a run: results.json and table.txt in `outDir` (created), the budget `budgetS` seconds
 * (the device script stops the benchmark then), the gpu.js `mode` recorded.
 */
export function startGpuBench(outDir: string, budgetS: number, mode: string): GpuBenchRun {
  const started = performance.now();
  mkdirSync(outDir, { recursive: true });
  const found = torchPython();
  const results: GpuBenchRun["results"] = {
    date: new Date().toISOString(),
    node: process.version,
    mode,
    host: { cpu: os.cpus()[0]?.model ?? "unknown", cores: os.cpus().length },
    sizes: [],
  };
  const table: string[] = [];
  const elapsed = (): number => (performance.now() - started) / 1000;
  const left = (): number => budgetS - 15 - elapsed();
  const run: GpuBenchRun = {
    results,
    python: "why" in found ? "python3" : found.python,
    say: (line) => {
      console.log(line);
      table.push(line);
    },
    flush: () => {
      writeFileSync(path.join(outDir, "results.json"), JSON.stringify(results, null, 1));
      writeFileSync(path.join(outDir, "table.txt"), table.join("\n") + "\n");
    },
    elapsed,
    left,
    affordable: (what, estimateS, into) => {
      if (estimateS < left()) return true;
      into.skipped = `time budget: about ${estimateS.toFixed(1)} s needed, ${Math.max(0, left()).toFixed(1)} s left`;
      run.say(`${what}: skipped (${into.skipped as string})`);
      run.flush();
      return false;
    },
    endSize: (entry, webgpu) => {
      const uncaptured = webgpu ? takeUncapturedWebGpuErrors() : [];
      if (uncaptured.length > 0) {
        entry.uncapturedErrors = uncaptured;
        run.say(`uncaptured device errors: ${uncaptured.join(" | ")}`);
      }
      run.flush();
    },
  };
  return run;
}

/**
 * The device header of a run: on webgpu the adapter (results.webgpu) and the cost of one empty
 * submit (results.submitSeconds); with `torch`, PyTorch's CUDA device (results.torch) and the
 * device-to-device copy bandwidth (results.hbmBytesPerSecond), by torch_scan.py. Returns the
 * device and the bandwidth (null where not measured).
 */
export async function measureGpuDevice(
  run: GpuBenchRun,
  options: { webgpu: boolean; torch: boolean },
): Promise<{ torch: TorchDevice | null; hbm: number | null }> {
  const { results, say } = run;
  if (options.webgpu) {
    const info = await installWebGpu();
    results.webgpu = info;
    say(
      `WebGPU adapter: ${info.adapter} (${info.maxStorageBuffersPerShaderStage} storage buffers per stage)`,
    );
    const submit = await measureWebGpuSubmit(100);
    results.submitSeconds = submit;
    say(
      `one empty submit, until the GPU reports it done: ${formatSeconds(submit)} (median of 100)`,
    );
  }
  let torch: TorchDevice | null = null;
  let hbm: number | null = null;
  if (options.torch) {
    const script = gpuRunScript("torch_scan.py");
    try {
      torch = torchCall(run.python, script, ["info"], 300) as TorchDevice;
      results.torch = torch;
      say(`PyTorch: ${JSON.stringify(torch)}`);
      const h = torchCall(run.python, script, ["hbm"], 300) as { bytesPerSecond: number };
      hbm = h.bytesPerSecond;
      results.hbmBytesPerSecond = hbm;
      say(
        `HBM: device-to-device copy: ${(hbm / 1e12).toFixed(2)} TB/s (read + write, median of 10)`,
      );
    } catch (e) {
      say(`PyTorch: not available: ${(e as Error).message}`);
    }
  }
  run.flush();
  return { torch, hbm };
}

/**
 * A gpu.js program with its data on the device, as createFusedGpuScan and createGpuSsd make
 * them: inputs uploaded once, kernels chained on the device, results read back when asked.
 */
export interface DeviceProgram<I, U, O, R> {
  upload(inputs: I): Promise<U>;
  forward(uploaded: U): Promise<O>;
  read(output: O): Promise<R>;
  free(...values: U[]): void;
}

/** Forward runs per back-to-back group of {@link timeOnDevice}. */
export const BACK_TO_BACK = 10;

/** What {@link timeKernels} measured. */
export interface KernelTimings<R> {
  /** The checked run's result (webgpu: inside error scopes, so a device error throws). */
  first: R;
  /** The kernels with the inputs on the device, each run until the GPU reports them done. */
  forward: Timing;
  /** The same, {@link BACK_TO_BACK} at a time ({@link timeBackToBack}; ⌈repeats / 4⌉ groups). */
  forwardBackToBack: Timing;
}

/** What {@link timeOnDevice} measured. */
export interface DeviceTimings<R> extends KernelTimings<R> {
  /** The first upload, until the GPU is idle (seconds). */
  firstUploadSeconds: number;
  read: Timing;
  /** Upload until the GPU is idle. */
  upload: Timing;
  /** Upload, kernels and read-back. */
  endToEnd: Timing;
}

/**
 * Times a program's kernels on inputs already on the device (`up`): one checked run, then the
 * kernels one at a time (median of `repeats`) and back to back. On webgpu every timed part waits
 * until the GPU is idle; `label` names the checked run's device errors.
 */
export async function timeKernels<I, U, O, R>(
  program: DeviceProgram<I, U, O, R>,
  up: U,
  options: { webgpu: boolean; label: string; repeats: number },
): Promise<KernelTimings<R>> {
  const idle = options.webgpu ? webGpuIdle : async () => {};
  const checkedRun = async () => program.read(await program.forward(up));
  const first = options.webgpu
    ? await withDeviceErrorScopes(options.label, checkedRun)
    : await checkedRun();
  const forward = await time(options.repeats, async () => {
    await program.forward(up);
    await idle();
  });
  const forwardBackToBack = await timeBackToBack(
    Math.max(1, Math.ceil(options.repeats / 4)),
    BACK_TO_BACK,
    () => program.forward(up),
    idle,
  );
  return { first, forward, forwardBackToBack };
}

/**
 * Times a program on `inputs` the one way both GPU benchmarks do: the first upload (then
 * `uploaded(seconds)`), its kernels ({@link timeKernels}), the read-back, the upload and end to
 * end (median of `transfers()` each). On webgpu every timed part waits until the GPU is idle.
 */
export async function timeOnDevice<I, U, O, R>(
  program: DeviceProgram<I, U, O, R>,
  inputs: I,
  options: {
    webgpu: boolean;
    label: string;
    repeats: number;
    transfers: () => number;
    uploaded?: (seconds: number) => void;
  },
): Promise<DeviceTimings<R>> {
  const idle = options.webgpu ? webGpuIdle : async () => {};
  const t0 = performance.now();
  const up = await program.upload(inputs);
  await idle();
  const firstUploadSeconds = (performance.now() - t0) / 1000;
  options.uploaded?.(firstUploadSeconds);
  const kernels = await timeKernels(program, up, options);
  const o = await program.forward(up);
  await idle();
  const read = await time(options.transfers(), () => program.read(o));
  program.free(up);
  const upload = await time(options.transfers(), async () => {
    const u2 = await program.upload(inputs);
    await idle();
    program.free(u2);
  });
  const endToEnd = await time(options.transfers(), async () => {
    const u2 = await program.upload(inputs);
    await program.read(await program.forward(u2));
    program.free(u2);
  });
  return { ...kernels, firstUploadSeconds, read, upload, endToEnd };
}

/**
 * Each kernel's time: the median over `runs` forwards of a program made with `trace: true`
 * (after one untimed forward), in launch order.
 */
export async function perKernelTimes<I, U, O>(
  program: DeviceProgram<I, U, O, unknown> & {
    takeTrace(): { kernel: string; seconds: number }[];
  },
  inputs: I,
  runs = 5,
): Promise<{ kernel: string; seconds: number }[]> {
  const up = await program.upload(inputs);
  await program.forward(up);
  program.takeTrace();
  const traces: { kernel: string; seconds: number }[][] = [];
  for (let i = 0; i < runs; i++) {
    await program.forward(up);
    traces.push(program.takeTrace());
  }
  program.free(up);
  return traces[0].map((k, j) => ({
    kernel: k.kernel,
    seconds: median(traces.map((r) => r[j].seconds)),
  }));
}

/** Runs a GPU benchmark's `main` and exits with its outcome (Dawn keeps the event loop alive). */
export function runGpuBenchMain(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
