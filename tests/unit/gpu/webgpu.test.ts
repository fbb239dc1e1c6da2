/**
 * lib's WebGPU set-up (lib/src/gpu/webgpu.ts) against a stand-in navigator.gpu that behaves like
 * Dawn's Node binding where it matters: its device refuses a plain function as
 * `onuncapturederror` and accepts only EventListener objects in addEventListener, and its error
 * scopes report what we tell them to. (Dawn itself does not load on Debian 12: its binary needs a
 * newer libstdc++.) Own file: it installs a global navigator.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MEASURED_GPU_SCANS, installWebGpu, releaseWebGpu } from "../../../lib/src/index";
import {
  createWebGpuBuffer,
  firstNonFiniteOnDevice,
  readWebGpuBuffer,
  takeUncapturedWebGpuErrors,
  withDeviceErrorScopes,
} from "../../../lib/src/gpu/webgpu";
import { readFileSync } from "node:fs";
import * as path from "node:path";

type Listener = { handleEvent(e: unknown): void };

class FakeDevice {
  readonly listeners: Listener[] = [];
  readonly scopes: string[] = [];
  /** What the next popErrorScope calls answer, innermost first. */
  pending: ({ message: string } | null)[] = [];
  readonly lost = new Promise<never>(() => {});
  readonly limits = { maxStorageBufferBindingSize: 1 << 30, maxBufferSize: 1 << 30 };
  constructor(readonly descriptor: { requiredLimits?: Record<string, number> }) {}
  addEventListener(type: string, listener: unknown): void {
    // like Dawn: "no overload matched" for a plain function
    if (type !== "uncapturederror" || typeof listener === "function") {
      throw new TypeError("no overload matched for addEventListener:");
    }
    this.listeners.push(listener as Listener);
  }
  pushErrorScope(filter: string): void {
    this.scopes.push(filter);
  }
  async popErrorScope(): Promise<{ message: string } | null> {
    this.scopes.pop();
    return this.pending.shift() ?? null;
  }
  destroy(): void {}
}
// Dawn's setter rejects functions that are not its EventHandler interface
Object.defineProperty(FakeDevice.prototype, "onuncapturederror", {
  set() {
    throw new TypeError("object is not of the correct interface type");
  },
  get() {
    return null;
  },
});

const devices: FakeDevice[] = [];
const adapter = {
  info: { vendor: "test", architecture: "fake", device: "", description: "stand-in" },
  limits: {
    maxStorageBuffersPerShaderStage: 12,
    maxStorageBufferBindingSize: 1 << 30,
    maxBufferSize: 1 << 30,
  },
  async requestDevice(descriptor: { requiredLimits?: Record<string, number> } = {}) {
    const d = new FakeDevice(descriptor);
    devices.push(d);
    return d;
  },
};

describe("installWebGpu and the device shim", () => {
  beforeAll(() => {
    (globalThis as { navigator?: unknown }).navigator = {
      gpu: { requestAdapter: async () => adapter },
    };
  });
  afterAll(async () => {
    await releaseWebGpu();
    delete (globalThis as { navigator?: unknown }).navigator;
  });

  it("wraps an existing navigator.gpu (no Dawn) and reports the adapter and its limits", async () => {
    const info = await installWebGpu();
    expect(info).toEqual({
      dawn: false,
      adapter: "test / fake / stand-in",
      maxStorageBuffersPerShaderStage: 12,
      maxStorageBufferBindingSize: 1 << 30,
    });
    expect(await installWebGpu()).toBe(info);
  });

  it("devices get the adapter's storage-buffer limit, an assignable onuncapturederror, and forwarded errors", async () => {
    const gpu = (
      globalThis as unknown as {
        navigator: { gpu: typeof adapter & { requestAdapter(): Promise<typeof adapter> } };
      }
    ).navigator.gpu;
    const a = await gpu.requestAdapter();
    const device = (await a.requestDevice({
      requiredLimits: { maxBufferSize: 99 },
    })) as unknown as FakeDevice & {
      onuncapturederror: unknown;
    };
    expect(device.descriptor.requiredLimits).toEqual({
      maxStorageBuffersPerShaderStage: 12,
      maxBufferSize: 99,
    });
    const seen: unknown[] = [];
    // what gpu.js does, and what Dawn's own setter refuses
    device.onuncapturederror = (e: unknown) => seen.push(e);
    expect(typeof device.onuncapturederror).toBe("function");
    expect(device.listeners.length).toBe(1);
    takeUncapturedWebGpuErrors();
    const event = { error: { message: "shader compile failed" } };
    device.listeners[0].handleEvent(event);
    expect(seen).toEqual([event]);
    expect(takeUncapturedWebGpuErrors()).toEqual(["shader compile failed"]);
    expect(takeUncapturedWebGpuErrors()).toEqual([]);
  });

  it("withDeviceErrorScopes throws what the device's error scopes caught, and passes results through", async () => {
    await expect(withDeviceErrorScopes("myScan", async () => 42)).resolves.toBe(42);
    // gpu.js's shared device: the one created through the wrapped navigator.gpu
    const shared = devices.find((d) => d.scopes.length === 0 && d.pending.length === 0)!;
    for (const d of devices) d.pending = [{ message: "binding too large" }];
    await expect(withDeviceErrorScopes("myScan", async () => 1)).rejects.toThrow(
      /^myScan: the WebGPU device reported validation error: binding too large$/,
    );
    expect(shared.scopes).toEqual([]);
    // the body's own error wins over a scope's
    for (const d of devices) d.pending = [{ message: "later" }];
    await expect(
      withDeviceErrorScopes("myScan", async () => {
        throw new Error("body failed");
      }),
    ).rejects.toThrow("body failed");
  });

  it("rejects bad flags naming installWebGpu", () => {
    expect(() => installWebGpu([1 as never])).toThrow(
      /installWebGpu: argument 'flags' must be an array of strings/,
    );
  });
});

describe("MEASURED_GPU_SCANS", () => {
  it("holds the raw results files' numbers, the real GPU first", () => {
    expect(MEASURED_GPU_SCANS[0].machine).toBe("real GPU");
    for (const run of MEASURED_GPU_SCANS) {
      const raw = JSON.parse(readFileSync(path.join(__dirname, "../../..", run.source), "utf8"));
      const rows = raw.sizes.flatMap((s: { gpujs: { seconds: number | null }[] }) => s.gpujs);
      expect(run.rows.map((r) => r.seconds)).toEqual(
        rows.map((r: { seconds: number | null }) => r.seconds),
      );
      for (const r of run.rows) if (r.seconds !== null) expect(r.relErrVsCpu!).toBeLessThan(1e-5);
    }
  });
});

describe("the transfers' arguments (checked before any device is asked for)", () => {
  const data = new Float32Array(6);
  // what readWebGpuBuffer recognises as a gpu.js buffer result: 6 float32 values
  const result = { type: "WebGPUBuffer", buffer: { size: 24 }, output: [6], componentCount: 1 };

  it("createWebGpuBuffer names the argument and what it expected", async () => {
    await expect(createWebGpuBuffer(new Float64Array(6) as never, [6])).rejects.toThrow(
      /createWebGpuBuffer: argument 'data' must be a non-empty Float32Array/,
    );
    await expect(createWebGpuBuffer(data, [4])).rejects.toThrow(
      /createWebGpuBuffer: argument 'size' must be \[4\] holds 4 values, data has 6/,
    );
    await expect(createWebGpuBuffer(data, [6], "copy" as never)).rejects.toThrow(
      /createWebGpuBuffer: argument 'how' must be one of "staged", "write", "mapped"/,
    );
    await expect(createWebGpuBuffer(data, [6], "staged", 6)).rejects.toThrow(
      /createWebGpuBuffer: argument 'sliceBytes' must be a multiple of 4 \(got 6\)/,
    );
    await expect(createWebGpuBuffer(data, [6], "write", 0)).rejects.toThrow(
      /createWebGpuBuffer: argument 'sliceBytes' must be an integer in \[4, 2147483648\] \(got 0\)/,
    );
  });

  it("firstNonFiniteOnDevice names the argument and what it expected", async () => {
    await expect(firstNonFiniteOnDevice(result as never)).rejects.toThrow(
      /firstNonFiniteOnDevice: argument 'values' must be an array of gpu.js WebGPUBufferResults/,
    );
    await expect(firstNonFiniteOnDevice([result, data])).rejects.toThrow(
      /firstNonFiniteOnDevice: argument 'values\[1\]' must be a gpu.js WebGPUBufferResult \(got a Float32Array/,
    );
    await expect(firstNonFiniteOnDevice([])).resolves.toEqual([]);
  });

  it("readWebGpuBuffer names the argument and what it expected", async () => {
    await expect(readWebGpuBuffer({}, 6)).rejects.toThrow(
      /readWebGpuBuffer: argument 'value' must be a gpu.js WebGPUBufferResult/,
    );
    await expect(readWebGpuBuffer(result, 7)).rejects.toThrow(
      /readWebGpuBuffer: argument 'length' must be an integer in \[1, 6\] \(got 7\)/,
    );
    await expect(readWebGpuBuffer(result, 6, 10)).rejects.toThrow(
      /readWebGpuBuffer: argument 'sliceBytes' must be a multiple of 4 \(got 10\)/,
    );
    await expect(readWebGpuBuffer(result, 6, 2 ** 32)).rejects.toThrow(
      /readWebGpuBuffer: argument 'sliceBytes' must be an integer in \[4, 2147483648\]/,
    );
  });
});
