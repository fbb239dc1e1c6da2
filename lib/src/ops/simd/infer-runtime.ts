/**
 * The inference kernels of `./infer-kernels.ts` instantiated over one shared WebAssembly memory
 * (and `ssdHeads` and `ssdStepHeads`, Mamba-2's per-head SSD work of a chunk and of a decoding
 * step: TypeScript around the training kernels' gemm and SSD step, `./ssd.ts`), and a kernel
 * call as plain numbers, so that the calling thread and the workers of `./infer-threads.ts` run
 * the same call the same way (a worker reads it from shared words).
 */
import { type WasmMemory, wasmApi } from "./wasm";
import { convModuleBytes, matmulModuleBytes, scanStateModuleBytes } from "./infer-kernels";
import { coreModuleBytes } from "./kernels";
import { ssdHeads, ssdStepHeads } from "./ssd";
import { type GemmKernel, MEMORY, type SsdStepKernel } from "./memory";

/** The kernels a call may name, in the order the workers' job words number them. */
export const KERNELS = [
  "linF32",
  "linBf16",
  "linF16",
  "mvF32",
  "mvBf16",
  "mvF16",
  "permute8",
  "negExp",
  "differs",
  "convState",
  "scanState",
  "scanStateLti",
  "scanStep",
  "scanStepLti",
  "ssdHeads",
  "ssdStepHeads",
] as const;
export type KernelName = (typeof KERNELS)[number];

/** The most arguments a kernel takes (the job words have room for this many). */
export const MAX_KERNEL_ARGS = 16;

/**
 * One kernel call: its name, the size its module is generated for (conv width k for
 * `convState`, state size N for the scans, 0 for the rest), and its arguments (byte addresses,
 * sizes, strides: see `./infer-kernels.ts`).
 */
export interface KernelCall {
  kernel: KernelName;
  size: number;
  args: number[];
}

type Exports = Record<string, (...args: number[]) => void>;

// compiled once per thread, by module key; instantiated once per memory
const modules = new Map<string, object>();

function moduleOf(kernel: KernelName, size: number): { key: string; make: () => Uint8Array } {
  if (kernel === "convState")
    return { key: `conv${size}`, make: () => convModuleBytes(size, MEMORY) };
  if (kernel.startsWith("scan"))
    return { key: `scan${size}`, make: () => scanStateModuleBytes(size, MEMORY) };
  if (kernel === "ssdHeads" || kernel === "ssdStepHeads")
    return { key: "core", make: () => coreModuleBytes(MEMORY) };
  return { key: "matmul", make: () => matmulModuleBytes(MEMORY) };
}

/** The inference kernels over one memory (instances made on first use). */
export class InferKernels {
  private readonly instances = new Map<string, Exports>();
  /** Each kernel's function by name and size (a decoding step makes thousands of calls). */
  private readonly functions = new Map<KernelName, Map<number, (...args: number[]) => void>>();

  constructor(private readonly memory: WasmMemory) {}

  /** Runs one kernel call. */
  run(c: KernelCall): void {
    let f = this.functions.get(c.kernel)?.get(c.size);
    if (!f) {
      const e = this.instance(c.kernel, c.size);
      // the SSD's heads: TypeScript around the core module's kernels (`./ssd.ts`)
      if (c.kernel === "ssdHeads")
        f = (desc, scratch, h0, h1) =>
          ssdHeads(this.memory.buffer, e.gemm as GemmKernel, desc, scratch, h0, h1);
      else if (c.kernel === "ssdStepHeads")
        // the pool passes both heads kernels a scratch address (`HeadsRunner`); a step needs none
        f = (desc, _scratch, i0, i1) =>
          ssdStepHeads(this.memory.buffer, e.ssdStep as SsdStepKernel, desc, i0, i1);
      else f = e[c.kernel];
      const bySize = this.functions.get(c.kernel) ?? new Map();
      bySize.set(c.size, f);
      this.functions.set(c.kernel, bySize);
    }
    f(...c.args);
  }

  private instance(kernel: KernelName, size: number): Exports {
    const { key, make } = moduleOf(kernel, size);
    let e = this.instances.get(key);
    if (!e) {
      let module = modules.get(key);
      if (!module) {
        module = new wasmApi!.Module(make());
        modules.set(key, module);
      }
      e = new wasmApi!.Instance(module, { env: { memory: this.memory } }).exports as Exports;
      this.instances.set(key, e);
    }
    return e;
  }
}
