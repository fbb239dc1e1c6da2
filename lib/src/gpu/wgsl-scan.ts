/**
 * The fused selective scan written by hand in WGSL, WebGPU's own shading language: what the fused
 * design reaches when the kernel language lets a kernel share memory inside a workgroup, hold
 * arrays in registers and loop over the sequence itself, which gpu.js's kernels cannot (README's
 * fused-scan section). It runs on the same device, from the same uploads as the fused gpu.js scan
 * (fused-scan.ts), so the two are timed on the same card in the same run: the forward, y (b, d, l);
 * for training, the forward that also keeps the state entering every chunk, and the backward
 * from those states (every gradient of selectiveScanBackward). The shaders and how they split the
 * work are in wgsl-scan-kernels.ts.
 */
import type { Tensor } from "../tensor";
import { checkArg, schema } from "../validate";
import type { SelectiveScanArgs } from "../selective/scan";
import type { FusedScanGrads } from "./fused-scan";
import type { ScanDims } from "./scan-kernels";
import { createDeviceKernels } from "./device-kernels";
import {
  type DeviceScanArgs,
  releaseDeviceScanArgs,
  uploadDeviceScanArgs,
  uploadDeviceScanGradient,
} from "./device-scan-inputs";
import {
  type WgslBackwardPlan,
  type WgslScanOptions,
  type WgslScanPlan,
  type WgslScanTiling,
  checkTiling,
  planBackward,
  planForward,
  sumsWorkgroups,
  wgslBackwardSource,
  wgslForwardSource,
  wgslGradientLayout,
  wgslSumsSource,
} from "./wgsl-scan-kernels";
import {
  type WgslPipeline,
  allocateWebGpuBuffer,
  compileWgsl,
  readWebGpuBuffer,
  webGpuLimits,
  webGpuSubgroupSize,
} from "./webgpu";
import { releaseDeviceValue } from "./backends";

export {
  type WgslBackwardPlan,
  type WgslScanOptions,
  type WgslScanPlan,
  type WgslScanTiling,
  planWgslScan,
  wgslScanSource,
} from "./wgsl-scan-kernels";

/** What the training forward leaves on the device for the backward. */
export interface WgslTrainOutput {
  /** y, (b, d, l) (a gpu.js `WebGPUBufferResult`). */
  readonly out: unknown;
  /** The state entering every chunk, (b·d, chunks, n). */
  readonly states: unknown;
}

/** The backward's results on the device: one buffer, laid out as wgslGradientLayout says. */
export interface WgslScanGrads {
  readonly grads: unknown;
}

/** A hand-written WGSL scan whose data stays on the device between calls. */
export interface WgslScanner {
  /** The tiling asked for. */
  readonly tiling: WgslScanTiling;
  /** Checks and uploads the arguments, as the fused gpu.js scan's upload does (the same buffers). */
  upload(args: SelectiveScanArgs): Promise<DeviceScanArgs>;
  /**
   * The scan's output y, (b, d, l), on the device (a gpu.js `WebGPUBufferResult`), after one
   * dispatch; nothing is read back. The next forward of the same size overwrites it.
   */
  forward(inputs: DeviceScanArgs): Promise<unknown>;
  /**
   * The forward for training: y and the state entering every chunk, for {@link backward}. The
   * next forward of the same size overwrites both.
   */
  forwardTrain(inputs: DeviceScanArgs): Promise<WgslTrainOutput>;
  /** Reads y back to the host. */
  read(out: unknown): Promise<{ out: Tensor<Float32Array> }>;
  /** Uploads dout = ∂loss/∂out, (b, d, l), for {@link backward}. */
  uploadGradient(inputs: DeviceScanArgs, dout: Tensor): Promise<unknown>;
  /**
   * The backward from `saved` (this scanner's last forwardTrain of these inputs) and the uploaded
   * dout: two dispatches, nothing read back. The next backward of the same size overwrites it.
   */
  backward(inputs: DeviceScanArgs, saved: WgslTrainOutput, dout: unknown): Promise<WgslScanGrads>;
  /** Reads the gradients back, each the shape of its input (as the fused scan's readGradients). */
  readGradients(inputs: DeviceScanArgs, grads: WgslScanGrads): Promise<FusedScanGrads>;
  /** Frees uploads (the scanner's own outputs are freed by destroy). */
  free(...values: unknown[]): void;
  /** The forward's tiling of the last size on this device (channels and lanes fitted to the size). */
  plan(): WgslScanPlan | null;
  /** The backward's tiling of the last size it ran. */
  backwardPlan(): WgslBackwardPlan | null;
  /** The forward's WGSL of the last size. */
  source(): string | null;
  /** Frees the outputs and the uploads' device. */
  destroy(): void;
}

/**
 * Creates a hand-written WGSL selective scan (forward, and forward and backward for training) on
 * gpu.js's shared WebGPU device, for the same uploads as {@link createFusedGpuScan} (mode
 * "webgpu"). Each shader compiles on its first call for a size. Node needs Dawn (see
 * installWebGpu, which the upload calls).
 */
export function createWgslScan(options: WgslScanOptions = {}): WgslScanner {
  const tiling = checkTiling("createWgslScan", options);
  // the uploads (argument checks included) are the fused gpu.js scan's (device-scan-inputs.ts), on
  // gpu.js's device
  const dev = createDeviceKernels<never>("createWgslScan", "scanner", "webgpu");
  const pipelines = new Map<
    string,
    { pipeline: WgslPipeline; plan: WgslBackwardPlan | WgslScanPlan; source: string }
  >();
  // the size of the shaders and outputs held; its JSON tells a new size
  let size: ScanDims | null = null;
  // the scanner's outputs, one of each for the last size
  const owned = new Map<string, unknown>();

  /** The pipeline `kind` of the current size, compiled on first use. */
  const pipelineFor = async (
    name: string,
    kind: string,
    make: (
      workgroupBytes: number,
      subgroupSize: number,
    ) => { plan: WgslBackwardPlan | WgslScanPlan; source: string },
  ) => {
    let p = pipelines.get(kind);
    if (!p) {
      const limits = await webGpuLimits();
      const made = make(limits.maxComputeWorkgroupStorageSize, await webGpuSubgroupSize());
      p = { ...made, pipeline: await compileWgsl(name, made.source) };
      pipelines.set(kind, p);
    }
    return p;
  };
  /** The scanner's output buffer `kind` of `count` values for the current size. */
  const buffer = async (kind: string, count: number): Promise<unknown> => {
    let b = owned.get(kind);
    if (!b) {
      b = await allocateWebGpuBuffer([count]);
      owned.set(kind, b);
    }
    return b;
  };
  /** Checks `inputs` for `name`; a new size drops the last size's shaders and outputs. */
  const forSize = (name: string, inputs: DeviceScanArgs) => {
    checkArg(name, "inputs", inputs, schema.object());
    if (JSON.stringify(inputs.dims) !== JSON.stringify(size)) {
      size = inputs.dims;
      pipelines.clear();
      for (const b of owned.values()) releaseDeviceValue(b);
      owned.clear();
    }
    return inputs.dims;
  };
  const forwardPass = async (name: string, inputs: DeviceScanArgs, saveStates: boolean) => {
    const dims = forSize(name, inputs);
    const kind = saveStates ? "forward-train" : "forward";
    const { pipeline, plan } = await pipelineFor(name, kind, (bytes) => {
      const p = planForward(name, dims, tiling, bytes);
      return { plan: p, source: wgslForwardSource(dims, p, saveStates) };
    });
    const { batch, dim, length: L, dstate: N } = dims;
    const v = inputs.values;
    const out = await buffer("out", batch * dim * L);
    const buffers = [v.u, v.delta, v.A, v.B, v.C, v.Dv, v.bias, out];
    if (dims.hasZ) buffers.push(v.z);
    let states: unknown = null;
    if (saveStates) {
      states = await buffer("states", batch * dim * Math.ceil(L / tiling.chunk) * N);
      buffers.push(states);
    }
    pipeline.dispatch(buffers, plan.workgroups);
    return { out, states };
  };

  return {
    tiling,
    upload: (args) => uploadDeviceScanArgs("WgslScanner", dev, args),
    forward: async (inputs) => (await forwardPass("WgslScanner.forward", inputs, false)).out,
    forwardTrain: (inputs) => forwardPass("WgslScanner.forwardTrain", inputs, true),
    async read(out) {
      if (!size || out !== owned.get("out")) {
        throw new Error(
          "WgslScanner.read: argument 'out' must be the output of this scanner's last forward",
        );
      }
      const { batch, dim, length: L } = size;
      return {
        out: { shape: [batch, dim, L], data: await readWebGpuBuffer(out, batch * dim * L) },
      };
    },
    uploadGradient: (inputs, dout) => uploadDeviceScanGradient("WgslScanner", dev, inputs, dout),
    async backward(inputs, saved, dout) {
      const name = "WgslScanner.backward";
      const dims = forSize(name, inputs);
      if (!saved || saved.states !== owned.get("states")) {
        throw new Error(
          `${name}: argument 'saved' must be this scanner's last forwardTrain of these inputs`,
        );
      }
      const bwd = await pipelineFor(name, "backward", (bytes, subgroupSize) => {
        const p = planBackward(name, dims, tiling, bytes, subgroupSize);
        return { plan: p, source: wgslBackwardSource(dims, p) };
      });
      const channels = bwd.plan.channels;
      const sums = await pipelineFor(name, "sums", () => ({
        plan: bwd.plan,
        source: wgslSumsSource(dims, channels),
      }));
      const grads = await buffer("grads", wgslGradientLayout(dims, channels).total);
      const v = inputs.values;
      const buffers = [v.u, v.delta, v.AD, v.B, v.C, v.bias, dout, saved.states, grads];
      if (dims.hasZ) buffers.push(v.z);
      bwd.pipeline.dispatch(buffers, bwd.plan.workgroups);
      sums.pipeline.dispatch([grads], sumsWorkgroups(dims));
      return { grads };
    },
    async readGradients(inputs, { grads }) {
      const dims = forSize("WgslScanner.readGradients", inputs);
      const plan = pipelines.get("backward")?.plan;
      if (!plan || grads !== owned.get("grads")) {
        throw new Error(
          "WgslScanner.readGradients: argument 'grads' must be this scanner's last backward of these inputs",
        );
      }
      const { batch, dim, length: L, dstate: N, groups, hasZ } = dims;
      const at = wgslGradientLayout(dims, plan.channels);
      const all = await readWebGpuBuffer(grads, at.results);
      const bdl = batch * dim * L;
      const shape: [number, number, number] = [batch, dim, L];
      const bcShape = groups === 1 ? [batch, N, L] : [batch, groups, N, L];
      const half = batch * groups * N * L;
      const out: FusedScanGrads = {
        du: { shape, data: all.slice(at.du, at.du + bdl) },
        ddelta: { shape, data: all.slice(at.ddelta, at.ddelta + bdl) },
        dA: { shape: [dim, N], data: all.slice(at.dA, at.dA + dim * N) },
        dB: { shape: bcShape, data: all.slice(at.dBC, at.dBC + half) },
        dC: { shape: bcShape, data: all.slice(at.dBC + half, at.dBC + 2 * half) },
        ddeltaBias: { shape: [dim], data: all.slice(at.dDB + dim, at.dDB + 2 * dim) },
      };
      if (inputs.values.Dv !== undefined) {
        out.dD = { shape: [dim], data: all.slice(at.dDB, at.dDB + dim) };
      }
      if (hasZ) out.dz = { shape, data: all.slice(at.dz, at.dz + bdl) };
      return out;
    },
    free(...values) {
      for (const v of values) {
        if (!releaseDeviceScanArgs(v) && ![...owned.values()].includes(v)) releaseDeviceValue(v);
      }
    },
    plan: () => (pipelines.get("forward") ?? pipelines.get("forward-train"))?.plan ?? null,
    backwardPlan: () => (pipelines.get("backward")?.plan as WgslBackwardPlan | undefined) ?? null,
    source: () => (pipelines.get("forward") ?? pipelines.get("forward-train"))?.source ?? null,
    destroy() {
      for (const b of owned.values()) releaseDeviceValue(b);
      owned.clear();
      pipelines.clear();
      size = null;
      dev.destroy();
    },
  };
}
