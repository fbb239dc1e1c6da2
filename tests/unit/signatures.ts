/**
 * What each exported function of `lib/src/index.ts` accepts, argument by argument, as lib's own
 * schemas (`schema.*` from validate.ts), with one valid call. The property test
 * (`bad-input.property.test.ts`) replaces one argument at a time by values its schema rejects and
 * expects an Error naming the function and the argument; it fails for an exported function that
 * is in neither this registry nor the explicit, commented lists of the test.
 */
import * as lib from "../../lib/src/index";
import { MAX_ELEMENTS, type Schema, schema as s } from "../../lib/src/validate";

/** One argument: its name as lib's messages spell it, and its schema (null: not driven). */
export interface Arg {
  name: string;
  schema: Schema | null;
}

export interface Signature {
  /** A valid call's arguments (fresh each time: functions may consume an Rng). */
  valid: () => unknown[];
  args: Arg[];
  /** Calls the function (default: the export of the same name). */
  call?: (...args: unknown[]) => unknown;
}

const rng = () => new lib.Rng(7);
const T = (spec: Parameters<typeof s.tensor>[0] = {}): Schema => s.tensor(spec);
const a = (name: string, schema: Schema | null): Arg => ({ name, schema });
const mat = (rows: number[][]) => lib.tensor(rows);
const square = () =>
  mat([
    [-1, 0.5],
    [0, -2],
  ]);
const col = () => mat([[1], [0.5]]);
const row = () => mat([[1, 2]]);
const int = (min: number, max?: number) => s.integer({ min, max });
const pos = () => s.positive();
const scanArgs = () =>
  lib.randomSelectiveScanArgs(rng(), { batch: 1, dim: 2, length: 4, dstate: 2 });
const scanDims = () => ({
  batch: 1,
  dim: 2,
  length: 8,
  dstate: 4,
  groups: 1,
  softplus: true,
  hasZ: false,
});
const options = (fields: Record<string, Schema>) => s.options(fields);
const opt = <X>(x: Schema<X>) => s.optional(x);
const ssm = () => lib.dampedSpring(1, 0.5);
const DIMS = s.options(
  {
    batch: int(1, MAX_ELEMENTS),
    dim: int(1, MAX_ELEMENTS),
    length: int(1, MAX_ELEMENTS),
    dstate: int(1, 256),
    groups: int(1, MAX_ELEMENTS),
    softplus: s.boolean(),
    hasZ: s.boolean(),
  },
  "scan sizes",
);
const rngMethod =
  (m: string) =>
  (...args: unknown[]) =>
    (rng() as unknown as Record<string, (...x: unknown[]) => unknown>)[m](...args);

export const signatures: Record<string, Signature> = {
  // tensor.ts
  numel: { valid: () => [[2, 3]], args: [a("shape", s.shape({ maxElements: Infinity }))] },
  strides: { valid: () => [[2, 3]], args: [a("shape", s.shape({ maxElements: Infinity }))] },
  allocate: {
    valid: () => ["float64", 3],
    args: [a("dtype", s.oneOf(["float32", "float64"])), a("length", int(0, MAX_ELEMENTS))],
  },
  zeros: {
    valid: () => [[2, 3], "float32"],
    args: [a("shape", s.shape()), a("dtype", opt(s.oneOf(["float32", "float64"])))],
  },
  dtypeOf: { valid: () => [mat([[1]])], args: [a("t", T({ finite: false }))] },
  toNested: { valid: () => [mat([[1]])], args: [a("t", T({ finite: false }))] },
  astype: {
    valid: () => [mat([[1]]), "float32"],
    args: [a("t", T({ finite: false })), a("dtype", s.oneOf(["float32", "float64"]))],
  },
  maxAbsDiff: {
    valid: () => [mat([[1]]), mat([[2]])],
    args: [a("a", T({ finite: false })), a("b", T({ finite: false }))],
  },
  fromFloat64: {
    valid: () => [[2], new Float64Array(2), "float32"],
    args: [a("shape", s.shape()), a("data", null), a("dtype", s.oneOf(["float32", "float64"]))],
  },
  // rng.ts: the constructor and the methods
  Rng: {
    valid: () => [1],
    args: [a("seed", s.integer())],
    call: (seed) => new lib.Rng(seed as number),
  },
  "Rng#int": { valid: () => [3], args: [a("n", int(1))], call: rngMethod("int") },
  "Rng#uniform": {
    valid: () => [0, 1],
    args: [a("lo", opt(s.number())), a("hi", opt(s.number()))],
    call: rngMethod("uniform"),
  },
  "Rng#normal": {
    valid: () => [0, 1],
    args: [a("mean", opt(s.number())), a("std", opt(s.number({ min: 0 })))],
    call: rngMethod("normal"),
  },
  "Rng#randn": {
    valid: () => [[2, 2], 1, "float32"],
    args: [
      a("shape", s.shape()),
      a("std", opt(s.number({ min: 0 }))),
      a("dtype", opt(s.oneOf(["float32", "float64"]))),
    ],
    call: rngMethod("randn"),
  },
  "Rng#rand": {
    valid: () => [[2], 0, 1],
    args: [a("shape", s.shape()), a("lo", opt(s.number())), a("hi", opt(s.number()))],
    call: rngMethod("rand"),
  },
  "Rng#permutation": {
    valid: () => [5],
    args: [a("n", int(0, 2 ** 24))],
    call: rngMethod("permutation"),
  },
  // exercises
  exponentialMovingAverage: {
    valid: () => [[1, 2, 3], 0.5],
    args: [a("x", s.numbers()), a("alpha", s.number({ min: 0, max: 1 }))],
  },
  // conv
  ssmKernel: {
    valid: () => [square(), col(), row(), 4],
    args: [a("Abar", T()), a("Bbar", T()), a("C", T()), a("L", int(0, MAX_ELEMENTS))],
  },
  causalConv: {
    valid: () => [mat([[1, 2, 3]]), lib.tensor([1, 0.5])],
    args: [a("x", T()), a("K", T())],
  },
  fftConv: {
    valid: () => [mat([[1, 2, 3]]), lib.tensor([1, 0.5])],
    args: [a("x", T()), a("K", T())],
  },
  ssmRecurrence: {
    valid: () => [square(), col(), row(), lib.tensor([1, 2, 3])],
    args: [a("Abar", T()), a("Bbar", T()), a("C", T()), a("x", T())],
  },
  // linalg
  identity: { valid: () => [3], args: [a("n", int(0, 2 ** 13))] },
  matmul: {
    valid: () => [square(), col()],
    args: [a("A", T({ rank: 2 })), a("B", T({ rank: 2 }))],
  },
  transpose: { valid: () => [square()], args: [a("A", T({ rank: 2 }))] },
  norm: {
    valid: () => [square(), "fro"],
    args: [a("A", T()), a("kind", opt(s.oneOf(["fro", "1", "inf", "2"])))],
  },
  lu: { valid: () => [square()], args: [a("A", T({ rank: 2 }))] },
  solve: {
    valid: () => [square(), lib.tensor([1, 2])],
    args: [a("A", T({ rank: 2 })), a("B", T())],
  },
  inverse: { valid: () => [square()], args: [a("A", T({ rank: 2 }))] },
  det: { valid: () => [square()], args: [a("A", T({ rank: 2 }))] },
  eigvals: { valid: () => [square()], args: [a("A", T({ rank: 2 }))] },
  spectralAbscissa: { valid: () => [square()], args: [a("A", T({ rank: 2 }))] },
  spectralRadius: { valid: () => [square()], args: [a("A", T({ rank: 2 }))] },
  // ssm
  expm: { valid: () => [square()], args: [a("A", T({ rank: 2 }))] },
  expmDiagonal: { valid: () => [lib.tensor([-1, -2])], args: [a("a", T({ rank: 1 }))] },
  discretize: {
    valid: () => [square(), col(), 0.1, "zoh"],
    args: [
      a("A", T({ rank: 2 })),
      a("B", T({ rank: 2 })),
      a("dt", pos()),
      a("method", s.oneOf(["zoh", "bilinear", "euler"])),
    ],
  },
  discretizeDiagonal: {
    valid: () => [lib.tensor([-1, -2]), lib.tensor([1, 1]), 0.1, "zoh"],
    args: [
      a("a", T({ rank: 1 })),
      a("B", T()),
      a("dt", pos()),
      a("method", s.oneOf(["zoh", "bilinear", "euler"])),
    ],
  },
  rk4Step: {
    valid: () => [(_t: number, y: Float64Array) => y, 0, [1], 0.1],
    args: [a("f", s.function()), a("t", s.number()), a("y0", null), a("h", s.number())],
  },
  odeRk4: {
    valid: () => [(_t: number, y: Float64Array) => y, [1], 0, 1, 4],
    args: [
      a("f", s.function()),
      a("y0", null),
      a("t0", s.number()),
      a("t1", s.number()),
      a("steps", int(1)),
    ],
  },
  odeDormandPrince: {
    valid: () => [(_t: number, y: Float64Array) => y, [1], 0, 1, {}],
    args: [
      a("f", s.function()),
      a("y0", null),
      a("t0", s.number()),
      a("t1", s.number()),
      a(
        "options",
        options({
          rtol: opt(s.number({ min: 0 })),
          atol: opt(s.number({ min: 0 })),
          tEval: opt(s.numbers()),
          firstStep: opt(s.positive()),
          maxSteps: opt(int(1, 1e7)),
        }),
      ),
    ],
  },
  leakyIntegrator: { valid: () => [2], args: [a("tau", opt(pos()))] },
  dampedSpring: {
    valid: () => [1, 0.2],
    args: [a("omega", opt(pos())), a("zeta", opt(s.number()))],
  },
  stability: { valid: () => [square()], args: [a("A", T({ rank: 2 }))] },
  simulateExact: {
    valid: () => [ssm(), lib.tensor([1, 0]), 0.1],
    args: [a("ssm", null), a("x", T()), a("dt", pos())],
  },
  simulateRk4: {
    valid: () => [ssm(), lib.tensor([1, 0]), 0.1, { substeps: 2 }],
    args: [
      a("ssm", null),
      a("x", T()),
      a("dt", pos()),
      a("options", options({ substeps: opt(int(1, 10000)), h0: opt(s.present()) })),
    ],
  },
  simulateAdaptive: {
    valid: () => [ssm(), lib.tensor([1, 0]), 0.1, {}],
    args: [
      a("ssm", null),
      a("x", T()),
      a("dt", pos()),
      a(
        "options",
        options({
          rtol: opt(s.number({ min: 0 })),
          atol: opt(s.number({ min: 0 })),
          h0: opt(s.present()),
        }),
      ),
    ],
  },
  // selective
  softplus: { valid: () => [1], args: [a("x", null)] },
  sigmoid: { valid: () => [1], args: [a("x", null)] },
  silu: { valid: () => [1], args: [a("x", null)] },
  inverseSoftplus: { valid: () => [1], args: [a("y", pos())] },
  selectiveScan: { valid: () => [scanArgs()], args: [a("", null)] },
  initALog: { valid: () => [2, 3], args: [a("dim", int(0)), a("dstate", int(0))] },
  aFromLog: { valid: () => [mat([[0, 1]])], args: [a("ALog", T({ rank: 2 }))] },
  initS6: {
    valid: () => [rng(), { dim: 2, dstate: 2 }],
    args: [a("rng", s.rng()), a("options", null)],
  },
  initDtBias: {
    valid: () => [rng(), 3, {}],
    args: [
      a("rng", s.rng()),
      a("dim", int(0, MAX_ELEMENTS)),
      a(
        "options",
        options({
          dtMin: opt(s.present()),
          dtMax: opt(s.present()),
          dtInitFloor: opt(s.present()),
        }),
      ),
    ],
  },
  // tasks
  selectiveCopying: {
    valid: () => [rng(), { count: 2, length: 6, numTokens: 2, vocabSize: 5 }],
    args: [
      a("rng", s.rng()),
      a(
        "options",
        options({
          count: int(0, MAX_ELEMENTS),
          length: int(1, MAX_ELEMENTS),
          numTokens: int(1, MAX_ELEMENTS),
          vocabSize: int(3, 2 ** 31 - 1),
        }),
      ),
    ],
  },
  inductionHeads: {
    valid: () => [rng(), { count: 2, length: 6, vocabSize: 5 }],
    args: [
      a("rng", s.rng()),
      a(
        "options",
        options({
          count: int(0, MAX_ELEMENTS),
          length: int(3, MAX_ELEMENTS),
          vocabSize: int(3, 2 ** 31 - 1),
        }),
      ),
    ],
  },
  generateSelectiveCopyingSplit: {
    valid: () => ["test"],
    args: [a("split", s.oneOf(["train", "test"]))],
  },
  generateInductionHeadsSplit: {
    valid: () => ["test"],
    args: [a("split", s.oneOf(["train", "test"]))],
  },
  // hippo
  hippoLegS: { valid: () => [3], args: [a("N", int(1, 4096))] },
  s4dReal: { valid: () => [3], args: [a("N", int(1))] },
  s4dLin: { valid: () => [3], args: [a("N", int(1))] },
  // timing
  timeMs: {
    valid: () => [() => 0, { repeats: 1, minMs: 0.01 }],
    args: [
      a("fn", s.function()),
      a("options", options({ repeats: opt(int(1, 1000)), minMs: opt(s.positive({ max: 60000 })) })),
    ],
  },
  powerLawFit: {
    valid: () => [
      [1, 2, 4],
      [1, 4, 16],
    ],
    args: [a("x", null), a("y", null)],
  },
  // scan
  linearScan: {
    valid: () => [lib.tensor([0.5, 0.5]), lib.tensor([1, 1]), { algorithm: "blelloch" }],
    args: [
      a("a", T()),
      a("b", T()),
      a(
        "options",
        options({
          algorithm: opt(s.oneOf(lib.SCAN_ALGORITHMS)),
          chunkSize: opt(int(1)),
          stats: opt(s.object()),
        }),
      ),
    ],
  },
  scanSchedule: {
    valid: () => [8, "chunked", { chunkSize: 3 }],
    args: [
      a("length", int(1, 4096)),
      a("algorithm", s.oneOf(lib.SCAN_ALGORITHMS)),
      a("options", options({ chunkSize: opt(int(1)) })),
    ],
  },
  randomSelectiveScanArgs: {
    valid: () => [rng(), { batch: 1, dim: 1, length: 2, dstate: 1 }],
    args: [a("rng", null), a("size", null)],
  },
  // gpu: plans and kernel sources (no GPU needed)
  scanLaunchPlan: {
    valid: () => [scanDims(), "chunked", 4, false],
    args: [
      a("dims", DIMS),
      a("variant", s.oneOf(["naive", "chunked"])),
      a("T", int(1, 4096)),
      a("packed", opt(s.boolean())),
    ],
  },
  deltaKernelSource: { valid: () => [scanDims()], args: [a("dims", DIMS)] },
  expandDecaySource: { valid: () => [scanDims()], args: [a("dims", DIMS)] },
  expandInputSource: { valid: () => [scanDims()], args: [a("dims", DIMS)] },
  naiveOutputSource: { valid: () => [scanDims()], args: [a("dims", DIMS)] },
  chunkInputSource: { valid: () => [scanDims(), 4], args: [a("dims", DIMS), a("T", int(1, 4096))] },
  chunkDecaySource: { valid: () => [scanDims(), 4], args: [a("dims", DIMS), a("T", int(1, 4096))] },
  chunkedOutputSource: {
    valid: () => [scanDims(), 4, false],
    args: [a("dims", DIMS), a("T", int(1, 4096)), a("packed", opt(s.boolean()))],
  },
  packSource: {
    valid: () => [scanDims(), "A"],
    args: [a("dims", DIMS), a("which", s.oneOf(["A", "BC"]))],
  },
  lastStateSource: { valid: () => [3], args: [a("index", int(0, MAX_ELEMENTS))] },
  summarizeTraffic: {
    valid: () => [lib.scanLaunchPlan(scanDims(), "naive", 1)],
    args: [a("plan", null)],
  },
  trafficByKernel: {
    valid: () => [lib.scanLaunchPlan(scanDims(), "naive", 1)],
    args: [a("plan", null)],
  },
  // display
  lineChart: {
    valid: () => [[{ name: "a", y: [1, 2] }], { title: "t" }],
    args: [
      a("series", null),
      a(
        "options",
        options({
          title: opt(s.string({ allowEmpty: true })),
          xLabel: opt(s.string({ allowEmpty: true })),
          yLabel: opt(s.string({ allowEmpty: true })),
          logX: opt(s.boolean()),
          logY: opt(s.boolean()),
          height: opt(int(50, 10000)),
        }),
      ),
    ],
  },
  // more numerics
  nextPow2: { valid: () => [5], args: [a("n", int(1, 2 ** 30))] },
  fftPlan: { valid: () => [8], args: [a("n", null)] },
  rfftPlan: { valid: () => [8], args: [a("n", null)] },
  fft: { valid: () => [[1, 2, 3, 4]], args: [a("re", s.numbers({ minLength: 1 }))] },
  ifft: { valid: () => [[1, 2, 3, 4]], args: [a("re", s.numbers({ minLength: 1 }))] },
  rfft: { valid: () => [[1, 2, 3]], args: [a("x", s.numbers())] },
  matvec: {
    valid: () => [square(), lib.tensor([1, 2])],
    args: [a("A", T({ rank: 2 })), a("x", T({ rank: 1 }))],
  },
  discreteStates: {
    valid: () => [square(), col(), mat([[1], [2]])],
    args: [a("Abar", T({ rank: 2 })), a("B", T({ rank: 2 })), a("x", T())],
  },
  freeResponse: {
    valid: () => [square(), lib.tensor([1, 0]), [0, 0.5]],
    args: [a("A", T({ rank: 2 })), a("h0", T({ rank: 1 })), a("t", s.numbers())],
  },
  impulseResponse: { valid: () => [ssm(), [0, 0.5]], args: [a("ssm", null), a("t", s.numbers())] },
  stepResponse: { valid: () => [ssm(), [0, 0.5]], args: [a("ssm", null), a("t", s.numbers())] },
  logUniformDt: {
    valid: () => [0.5, 0.001, 0.1],
    args: [a("v", s.number({ min: 0, max: 1 })), a("dtMin", null), a("dtMax", null)],
  },
  s6Project: {
    valid: () => [rng().randn([1, 2, 3]), lib.initS6(rng(), { dim: 2, dstate: 2 })],
    args: [a("x", T({ rank: 3 })), a("params", null)],
  },
  s6: {
    valid: () => [rng().randn([1, 2, 3]), lib.initS6(rng(), { dim: 2, dstate: 2 }), {}],
    args: [
      a("x", T({ rank: 3 })),
      a("params", null),
      a("options", options({ z: opt(s.present()), returnLastState: opt(s.boolean()) })),
    ],
  },
  copyingTokens: { valid: () => [5], args: [a("vocabSize", int(3))] },
  inductionTokens: { valid: () => [5], args: [a("vocabSize", int(3))] },
  legendreP: { valid: () => [3, [0, 0.5]], args: [a("N", int(1, 100000)), a("x", null)] },
  gaussLegendre: { valid: () => [4], args: [a("M", int(1, 100000))] },
  combine: {
    valid: () => [
      [0.5, 1],
      [0.5, 2],
    ],
    args: [a("first", null), a("second", null)],
  },
  heatmap: {
    valid: () => [[[1, 2]], { title: "t" }],
    args: [
      a("z", null),
      a(
        "options",
        options({ title: opt(s.string({ allowEmpty: true })), colorscale: opt(s.string()) }),
      ),
    ],
  },
  progress: { valid: () => ["work", 3], args: [a("label", null), a("total", int(1))] },
  tensor: {
    valid: () => [[[1, 2]], "float32"],
    args: [a("values", null), a("dtype", opt(s.oneOf(["float32", "float64"])))],
  },
  createTrainPool: {
    valid: () => [{ threads: 1 }],
    args: [a("options", options({ threads: opt(int(1, 64)) }))],
  },
  selectiveScanFast: {
    valid: () => [scanArgs(), { engine: "js" }],
    args: [
      a("", null),
      a("options", options({ engine: opt(s.oneOf(["wasm", "js"])), tile: opt(int(1, 1 << 16)) })),
    ],
  },
  gpuScanTraffic: {
    valid: () => [{ batch: 1, dim: 2, length: 8, dstate: 4 }, { variant: "chunked" }],
    args: [
      a("size", null),
      a(
        "options",
        options({
          variant: s.oneOf(["naive", "chunked"]),
          chunkSize: opt(int(1, 4096)),
          backend: opt(s.present()),
        }),
      ),
    ],
  },
  // tasks, hippo, scans (continued)
  tokenAccuracy: {
    valid: () => {
      const set = lib.selectiveCopying(rng(), { count: 2, length: 6, numTokens: 2, vocabSize: 5 });
      return [new Int32Array(set.targets.length), set];
    },
    args: [a("predictions", null), a("set", null)],
  },
  chanceAccuracy: {
    valid: () => [lib.inductionHeads(rng(), { count: 2, length: 6, vocabSize: 5 })],
    args: [a("set", null)],
  },
  taskExample: {
    valid: () => [lib.inductionHeads(rng(), { count: 2, length: 6, vocabSize: 5 }), 1],
    args: [a("set", null), a("i", int(0, 1))],
  },
  fitLtiKernel: {
    valid: () => [
      lib.inductionHeads(rng(), { count: 4, length: 6, vocabSize: 5 }),
      { kernelLength: 2 },
    ],
    args: [
      a("set", null),
      a("options", options({ kernelLength: opt(int(1, 6)), ridge: opt(pos()) })),
    ],
  },
  legendreReconstruct: {
    valid: () => [lib.tensor([1, 0.5]), [0, 0.5]],
    args: [a("c", T({ rank: 1 })), a("u", null)],
  },
  legendreProject: {
    valid: () => [(u: number) => u, 3, 8],
    args: [a("f", s.function()), a("N", int(1, 100000)), a("M", opt(int(1, 1000000)))],
  },
  minNormReconstruct: {
    valid: () => [mat([[1, 0.5, 0.25]]), lib.tensor([1]), 1e-9],
    args: [a("M", T({ rank: 2 })), a("c", T({ rank: 1 })), a("ridge", null)],
  },
  applyPair: { valid: () => [[0.5, 1], 2], args: [a("pair", null), a("h", s.number())] },
  linearScanByCumprod: {
    valid: () => [lib.tensor([0.5, 0.5]), lib.tensor([1, 1]), { dtype: "float64" }],
    args: [a("a", T({ rank: 1 })), a("b", T({ rank: 1 })), a("options", null)],
  },
  runScanSchedule: {
    valid: () => [lib.scanSchedule(2, "sequential"), lib.tensor([0.5, 0.5]), lib.tensor([1, 1])],
    args: [a("schedule", null), a("a", T({ rank: 1 })), a("b", T({ rank: 1 }))],
  },
  scheduleCost: { valid: () => [lib.scanSchedule(4, "blelloch")], args: [a("schedule", null)] },
  hippoMemoryMatrix: {
    valid: () => {
      const { A, B } = lib.hippoLegS(3);
      return [A, B, 8];
    },
    args: [a("A", T({ rank: 2 })), a("B", T()), a("L", null)],
  },
  ssmVectorField: { valid: () => [ssm(), () => 1], args: [a("ssm", null), a("x", null)] },
};
