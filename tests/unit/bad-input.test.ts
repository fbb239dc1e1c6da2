/**
 * Regression tests for the bad calls found by trying every exported function as a new user would
 * (issue 10): each must throw an Error that names the function the user called, the argument and
 * what was expected, instead of hanging, crashing the process or returning NaN.
 */
import { describe, expect, it } from "vitest";
import { Rng } from "../../lib/src/rng";
import { astype, numel, tensor, zeros } from "../../lib/src/tensor";
import { fromFloat64 } from "../../lib/src/linalg/matrix";
import { MAX_ARRAY_LENGTH, MAX_ELEMENTS } from "../../lib/src/validate";
import { exponentialMovingAverage } from "../../lib/src/exercises/00-welcome";
import { softplus } from "../../lib/src/selective/activations";
import { initDtBias, initS6, s6 } from "../../lib/src/selective/s6";
import { selectiveScan } from "../../lib/src/selective/scan";
import { odeDormandPrince } from "../../lib/src/ssm/ode";
import {
  leakyIntegrator,
  simulateAdaptive,
  simulateExact,
  simulateRk4,
  stability,
} from "../../lib/src/ssm/continuous";
import { timeMs } from "../../lib/src/timing";
import { scanSchedule, MAX_SCHEDULE_LENGTH } from "../../lib/src/scan/schedule";
import {
  type ScanDims,
  chunkedOutputSource,
  naiveOutputSource,
  scanLaunchPlan,
  summarizeTraffic,
} from "../../lib/src/gpu/scan-kernels";
import { createGpuDecoder } from "../../lib/src/gpu/decode";
import { gpuSelectiveScan } from "../../lib/src/gpu/selective-scan";
import { heatmap, lineChart } from "../../lib/src/display/plot";
import { generateSelectiveCopyingSplit } from "../../lib/src/tasks/fixed";
import { randomSelectiveScanArgs } from "../../lib/src/scan/random-args";
import { initMamba, mambaGenerate } from "../../lib/src/mamba/index";
import { initTransformer, transformerGenerate } from "../../lib/src/transformer/index";

const dims: ScanDims = {
  batch: 1,
  dim: 2,
  length: 8,
  dstate: 4,
  groups: 1,
  softplus: true,
  hasZ: false,
};
const ssm = leakyIntegrator(1);
const x = tensor([1, 2, 3]);

describe("hangs", () => {
  it("scanLaunchPlan rejects a chunk size of 0, a missing one and an infinite length", () => {
    expect(() => scanLaunchPlan(dims, "chunked", 0)).toThrow(
      "scanLaunchPlan: argument 'T' must be an integer in [1, 4096] (got 0)",
    );
    expect(() => scanLaunchPlan(dims, "chunked", null as never)).toThrow(
      /scanLaunchPlan: argument 'T' must be an integer .*\(got null\)/,
    );
    expect(() => scanLaunchPlan({ ...dims, length: Infinity }, "chunked", 4)).toThrow(
      /scanLaunchPlan: argument 'dims.length' must be an integer in \[1, \d+\] \(got Infinity\)/,
    );
  });
});

describe("crashes and unbounded work: stated caps", () => {
  it("Rng#permutation", () => {
    expect(() => new Rng(1).permutation(1e9)).toThrow(
      `Rng.permutation: argument 'n' must be an integer in [0, ${MAX_ARRAY_LENGTH}] (got 1000000000)`,
    );
  });
  it("createGpuDecoder batch", () => {
    const A = tensor([
      [-1, -2],
      [-1, -2],
    ]);
    expect(() => createGpuDecoder({ A: A, batch: 1e9, mode: "cpu" })).toThrow(
      /createGpuDecoder: argument 'batch' must be an integer in \[1, \d+\] \(got 1000000000\)/,
    );
  });
  it("scanSchedule length", () => {
    expect(() => scanSchedule(1e9, "chunked")).toThrow(
      `scanSchedule: argument 'length' must be an integer in [1, ${MAX_SCHEDULE_LENGTH}] (got 1000000000)`,
    );
  });
  it("output-source generators' dstate", () => {
    expect(() => naiveOutputSource({ ...dims, dstate: 1e9 })).toThrow(
      "naiveOutputSource: argument 'dims.dstate' must be an integer in [1, 256] (got 1000000000)",
    );
    expect(() => chunkedOutputSource({ ...dims, dstate: 1e9 }, 4)).toThrow(
      /chunkedOutputSource: argument 'dims.dstate' must be an integer in \[1, 256\]/,
    );
  });
  it("lineChart points", () => {
    const y = { length: 1e9 } as unknown as number[];
    expect(() => lineChart([{ name: "a", y: y }])).toThrow(
      /lineChart: argument 'series\[0\].y' must have at most 1000000 points \(got 1000000000\)/,
    );
  });
  it("simulateRk4 substeps", () => {
    expect(() => simulateRk4(ssm, x, 0.1, { substeps: 1e9 })).toThrow(
      "simulateRk4: argument 'options.substeps' must be an integer in [1, 10000] (got 1000000000)",
    );
  });
  it("timeMs minMs", () => {
    expect(() => timeMs(() => 0, { minMs: 1e9 })).toThrow(
      "timeMs: argument 'options.minMs' must be a positive finite number <= 60000 (got 1000000000)",
    );
  });
  it("huge or negative sizes stop before the allocator", () => {
    expect(() => zeros([1e9, 1e9])).toThrow(
      /zeros: argument 'shape' must be a shape: .* at most 134217728 elements in all \(got \[1000000000, 1000000000\]/,
    );
    expect(() => new Rng(0).randn([-1])).toThrow(/Rng.randn: argument 'shape' must be a shape/);
    expect(() => initS6(new Rng(0), { dim: 1e6, dstate: 1e6 })).toThrow(
      /initS6: argument 'options' must be a request for at most 134217728 x_proj weights/,
    );
    expect(() =>
      randomSelectiveScanArgs(new Rng(0), { batch: 1e5, dim: 1e5, length: 1e5, dstate: 16 }),
    ).toThrow(/randomSelectiveScanArgs: argument 'size'/);
  });
});

describe("silent NaN or wrong shapes", () => {
  it("Rng samplers reject non-finite parameters", () => {
    const rng = new Rng(1);
    expect(() => rng.randn([3], NaN)).toThrow(
      "Rng.randn: argument 'std' must be a finite number >= 0 (got NaN)",
    );
    expect(() => rng.rand([2], 0, NaN)).toThrow(
      "Rng.rand: argument 'hi' must be a finite number (got NaN)",
    );
    expect(() => rng.uniform(NaN, 1)).toThrow(
      "Rng.uniform: argument 'lo' must be a finite number (got NaN)",
    );
    expect(() => rng.normal(0, -1)).toThrow(
      "Rng.normal: argument 'std' must be a finite number >= 0 (got -1)",
    );
  });
  it("exponentialMovingAverage alpha", () => {
    for (const alpha of [NaN, undefined, -1, 1e9]) {
      expect(() => exponentialMovingAverage([1, 2, 3], alpha as number)).toThrow(
        /^exponentialMovingAverage: argument 'alpha' must be a finite number in \[0, 1\] \(got .*\)$/,
      );
    }
  });
  it("numel, zeros and tensor", () => {
    expect(() => numel("2,3" as never)).toThrow(
      /^numel: argument 'shape' must be a shape: .*\(got "2,3"\)$/,
    );
    expect(() => zeros([NaN, 3])).toThrow(
      /^zeros: argument 'shape' must be a shape: .*\(got \[NaN, 3\]\)$/,
    );
    expect(() => zeros([1.5, 3])).toThrow(
      /^zeros: argument 'shape' must be a shape: .*\(got \[1.5, 3\]\)$/,
    );
    expect(() => zeros("2,3" as never)).toThrow(/^zeros: argument 'shape' must be a shape/);
    expect(() =>
      tensor([
        [1, NaN],
        [3, 4],
      ]),
    ).toThrow("tensor: argument 'values' must be finite numbers (got NaN at flat index 1)");
  });
  it("softplus(undefined)", () => {
    expect(() => softplus(undefined as never)).toThrow(
      "softplus: argument 'x' must be a number (got undefined)",
    );
  });
  it("astype and fromFloat64 with a data length that does not match the shape", () => {
    expect(() => astype({ shape: [2, 2], data: new Float64Array(3) }, "float32")).toThrow(
      "astype: argument 't' must be a tensor whose data length matches its shape: shape [2, 2] needs 4 elements (got 3)",
    );
    expect(() => fromFloat64([2, 2], new Float64Array(3), "float32")).toThrow(
      /^fromFloat64: argument 'data' must be a Float64Array of 4 values for shape \[2, 2\]/,
    );
  });
  it("scanLaunchPlan and summarizeTraffic with bad dims", () => {
    expect(() => scanLaunchPlan({ ...dims, batch: NaN }, "naive", 1)).toThrow(
      /^scanLaunchPlan: argument 'dims.batch' must be an integer/,
    );
    expect(() => scanLaunchPlan({ batch: 1 } as never, "naive", 1)).toThrow(
      /^scanLaunchPlan: argument 'dims.dim' must be an integer/,
    );
    expect(() => summarizeTraffic([{ kernel: "delta", threads: NaN }] as never)).toThrow(
      /^summarizeTraffic: argument 'plan\[0\].threads' must be a finite number >= 0 \(got NaN\)$/,
    );
    expect(() => summarizeTraffic(null as never)).toThrow(
      /^summarizeTraffic: argument 'plan' must be an array/,
    );
  });
});

describe("vague errors become precise", () => {
  const f = (_t: number, y: Float64Array) => y;
  it("options: null means 'not given'; a non-object is named", () => {
    expect(odeDormandPrince(f, [1], 0, 1, null as never).t[0]).toBe(0);
    expect(simulateRk4(ssm, x, 0.1, null as never).h.shape).toEqual([3, 1]);
    expect(simulateAdaptive(ssm, x, 0.1, null as never).h.shape).toEqual([3, 1]);
    expect(timeMs(() => 0, null as never)).toBeGreaterThanOrEqual(0);
    expect(scanSchedule(4, "chunked", null as never).length).toBe(4);
    expect(() => odeDormandPrince(f, [1], 0, 1, 42 as never)).toThrow(
      "odeDormandPrince: argument 'options' must be an options object { rtol?, atol?, tEval?, firstStep?, maxSteps? } (got 42)",
    );
    expect(() => timeMs(() => 0, 42 as never)).toThrow(
      /^timeMs: argument 'options' must be an options object .*\(got 42\)$/,
    );
  });
  it("s6 with options null, and errors that name s6", () => {
    const rng = new Rng(0);
    const params = initS6(rng, { dim: 2, dstate: 3 });
    const u = rng.randn([1, 2, 4]);
    expect(s6(u, params, null as never).out.shape).toEqual([1, 2, 4]);
    expect(() => s6(u, params, { z: rng.randn([1, 2, 5]) })).toThrow(
      /^s6: argument 'options.z' must be a tensor of shape \[1, 2, 4\]/,
    );
    expect(() => s6(rng.randn([1, 3, 4]), params)).toThrow(
      /^s6: argument 'x' must be a tensor of shape \[b, 2, l\]/,
    );
    expect(() =>
      s6(u, {
        ...params,
        ALog: tensor([
          [1000, 0, 0],
          [0, 0, 0],
        ]),
      }),
    ).toThrow(/^s6: argument 'params.ALog' must be a tensor of finite values/);
  });
  it("a bad rng in initS6 / initDtBias", () => {
    expect(() => initS6(42 as never, { dim: 2 })).toThrow(
      "initS6: argument 'rng' must be an Rng (e.g. new Rng(0)) (got 42)",
    );
    expect(() => initDtBias({} as never, 2)).toThrow(/^initDtBias: argument 'rng' must be an Rng/);
    expect(() => initS6(new Rng(0), { dim: 2, dtMin: -1 })).toThrow(
      /^initS6: argument 'options.dtMin' must be a positive finite number \(got -1\)/,
    );
  });
  it("generateSelectiveCopyingSplit('bogus')", () => {
    expect(() => generateSelectiveCopyingSplit("bogus" as never)).toThrow(
      `generateSelectiveCopyingSplit: argument 'split' must be one of "train", "test" (got "bogus")`,
    );
  });
  it("errors name the function the user called", () => {
    expect(() => stability(tensor([[1, 2, 3]]))).toThrow(
      /^stability: argument 'A' must be a square matrix/,
    );
    const rng = new Rng(0);
    expect(() => s6(rng.randn([1, 2]), initS6(rng, { dim: 2 }))).toThrow(/^s6: argument 'x'/);
    expect(() => initS6(rng, { dim: 2, dtMax: 0 })).toThrow(/^initS6: /);
    expect(() => gpuSelectiveScan({} as never, { mode: "bogus" as never })).toThrow(
      /^gpuSelectiveScan: argument 'options.mode'/,
    );
  });
});

describe("a generation's stop token lies in the vocabulary", () => {
  it("mambaGenerate and transformerGenerate refuse stopToken >= vocab_size the same way", () => {
    const mamba = initMamba({ vocab_size: 6, hidden_size: 4, num_hidden_layers: 1 }, new Rng(0));
    const llama = initTransformer(
      {
        vocab_size: 6,
        hidden_size: 8,
        intermediate_size: 8,
        num_hidden_layers: 1,
        num_attention_heads: 2,
      },
      new Rng(0),
    );
    for (const [fn, generate] of [
      ["mambaGenerate", () => mambaGenerate(mamba, [1], { ...options, stopToken: 6 })],
      ["transformerGenerate", () => transformerGenerate(llama, [1], { ...options, stopToken: 6 })],
    ] as const) {
      expect(generate).toThrow(
        `${fn}: argument 'options.stopToken' must be an integer in [0, 5] (got 6)`,
      );
    }
    expect(mambaGenerate(mamba, [1], { ...options, stopToken: 5 })).toHaveLength(2);
  });
  const options = { maxNewTokens: 2, temperature: 0 };
});

describe("unknown option keys are rejected", () => {
  const f = (_t: number, y: Float64Array) => y;
  const unknown = /\(got an unknown key "(\w+)"; the keys are .*\)$/;
  it("ODE solvers, initS6, s6, plot helpers, gpu helpers and ssm structs", () => {
    const rng = new Rng(0);
    const params = initS6(rng, { dim: 2, dstate: 3 });
    const cases: [string, () => unknown][] = [
      ["odeDormandPrince", () => odeDormandPrince(f, [1], 0, 1, { rTol: 1 } as never)],
      ["simulateRk4", () => simulateRk4(ssm, x, 0.1, { subSteps: 2 } as never)],
      ["simulateAdaptive", () => simulateAdaptive(ssm, x, 0.1, { tol: 1 } as never)],
      ["initS6", () => initS6(rng, { dim: 2, dState: 4 } as never)],
      ["s6", () => s6(rng.randn([1, 2, 3]), params, { Z: null } as never)],
      ["lineChart", () => lineChart([{ name: "a", y: [1] }], { ylabel: "y" } as never)],
      ["heatmap", () => heatmap([[1]], { colourscale: "x" } as never)],
      ["gpuSelectiveScan", () => gpuSelectiveScan({} as never, { chunk: 4 } as never)],
      ["simulateExact", () => simulateExact({ ...ssm, d: ssm.D } as never, x, 0.1)],
      [
        "selectiveScan",
        () =>
          selectiveScan({
            ...randomSelectiveScanArgs(rng, { batch: 1, dim: 1, length: 2, dstate: 1 }),
            d: null,
          } as never),
      ],
    ];
    for (const [name, call] of cases) {
      expect(call, name).toThrow(new RegExp(`^${name}: `));
      expect(call, name).toThrow(unknown);
    }
  });
  it("options = 42 is not treated as {}", () => {
    expect(() => simulateRk4(ssm, x, 0.1, 42 as never)).toThrow(
      /^simulateRk4: argument 'options' must be an options object .*\(got 42\)$/,
    );
    expect(() => lineChart([{ name: "a", y: [1] }], 42 as never)).toThrow(
      /^lineChart: argument 'options' must be/,
    );
  });
});

describe("the real bug: atol 0 at a zero state", () => {
  it("odeDormandPrince integrates y' = -y from y = 0 with atol 0 (exact answer 0)", () => {
    const sol = odeDormandPrince((_t, y) => Float64Array.from(y, (v) => -v), [0, 1], 0, 1, {
      atol: 0,
      rtol: 1e-8,
    });
    const last = sol.y.data.slice(-2);
    expect(last[0]).toBe(0);
    expect(Math.abs(last[1] - Math.exp(-1))).toBeLessThan(1e-7);
  });
  it("simulateAdaptive with atol 0 and a zero input keeps the zero state", () => {
    const sim = simulateAdaptive(ssm, tensor([0, 0, 0]), 0.1, { atol: 0, rtol: 1e-9 });
    expect(Array.from(sim.h.data)).toEqual([0, 0, 0]);
  });
  it("rtol = atol = 0 is named as the options' mistake", () => {
    expect(() => odeDormandPrince(f0, [1], 0, 1, { rtol: 0, atol: 0 })).toThrow(
      "odeDormandPrince: argument 'options.rtol' must be > 0 when atol is 0 (got 0)",
    );
  });
});
const f0 = (_t: number, y: Float64Array) => y;

describe("zero-size tensors are accepted consistently (the policy in validate.ts)", () => {
  it("zeros, tensor and the samplers make empty tensors; numel is 0", () => {
    expect(zeros([0, 3]).data.length).toBe(0);
    expect(new Rng(0).randn([2, 0]).shape).toEqual([2, 0]);
    expect(numel([4, 0])).toBe(0);
    expect(MAX_ELEMENTS).toBe(2 ** 27);
  });
});
