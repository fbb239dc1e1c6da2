/**
 * What each exported function of `lib/src/index.ts` accepts, argument by argument, as lib's own
 * schemas (`schema.*` from validate.ts), with one valid call. The property test
 * (`bad-input.property.test.ts`) replaces one argument at a time by values its schema rejects and
 * expects an Error naming the function and the argument; it fails for an exported function that
 * is in neither this registry nor the explicit, commented lists of the test.
 */
import { mkdtempSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as lib from "../../lib/src/index";
import { MAX_ELEMENTS, type Schema, describe, schema as s } from "../../lib/src/validate";

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
/** A schema written here for an argument lib checks by hand (typed arrays, token batches). */
const custom = (expected: string, ok: (v: unknown) => boolean, invalid: unknown[]): Schema => ({
  expected,
  optional: false,
  problem: (v) => (ok(v) ? null : `${expected} (got ${describe(v)})`),
  invalid: () => [undefined, null, ...invalid],
});
const INT32_IDS = custom("an Int32Array of ids", (v) => v instanceof Int32Array, [[0, 1], "01", 3]);
/** Ids in [0, V): a plain array or an Int32Array. */
const idList = (V: number, nullAllowed = false) =>
  custom(
    `an array of ids in [0, ${V})`,
    (v) =>
      (Array.isArray(v) || v instanceof Int32Array) &&
      Array.from(v as ArrayLike<unknown>).every(
        (x) =>
          (nullAllowed && x === -100) ||
          (Number.isInteger(x) && (x as number) >= 0 && (x as number) < V),
      ),
    [[V], [-1], [0.5], "0", 7],
  );
const VOCAB = custom(
  "a character vocabulary",
  (v) =>
    v !== null &&
    typeof v === "object" &&
    Array.isArray((v as lib.CharVocabulary).chars) &&
    (v as lib.CharVocabulary).ids instanceof Map &&
    (v as lib.CharVocabulary).chars.length > 0 &&
    (v as lib.CharVocabulary).ids.size === (v as lib.CharVocabulary).chars.length,
  [{}, "abc", { chars: ["a"] }, null],
);
const WINDOWS = custom(
  "windows from validationWindows",
  (v) => {
    const w = v as lib.CharWindows | null;
    return (
      w !== null &&
      typeof w === "object" &&
      w.tokens?.data instanceof Int32Array &&
      w.targets?.data instanceof Int32Array &&
      w.tokens.data.length === w.targets.data.length
    );
  },
  [{}, [1, 2], { tokens: { shape: [1, 1], data: new Int32Array(1) } }],
);
const charIds = () => Int32Array.from({ length: 40 }, (_, i) => i % 3);
const charLogits = () => ({ shape: [1, 2, 3], data: Float64Array.from([0, 1, 2, 2, 1, 0]) });
const rngMethod =
  (m: string) =>
  (...args: unknown[]) =>
    (rng() as unknown as Record<string, (...x: unknown[]) => unknown>)[m](...args);

const int32 = () =>
  custom("an Int32Array", (v) => v instanceof Int32Array, [[1, 2], new Float32Array(2), 3, "ids"]);
const bytes = () =>
  custom("a Uint8Array", (v) => v instanceof Uint8Array, [[1, 2], new Float32Array(2), 3, "b"]);
const isIds = (v: unknown, vocab: number): boolean =>
  Array.isArray(v) &&
  v.every((x) => typeof x === "number" && Number.isInteger(x) && x >= 0 && x < vocab);
/** A (b, l) batch of token ids below `vocab`, as number[][] (the Int32Array form is also valid). */
const tokens = (vocab: number) =>
  custom(
    "a (b, l) batch of token ids",
    (v) =>
      (Array.isArray(v) &&
        v.every(
          (r) => isIds(r, vocab) && (r as unknown[]).length === (v[0] as unknown[]).length,
        )) ||
      (typeof v === "object" && v !== null && (v as { data?: unknown }).data instanceof Int32Array),
    [42, "ids", [[1.5]], [[1, 2], [1]], [[vocab]], [[-1]], [1, 2], { shape: [1, 1], data: [0] }],
  );
/** An array of token ids below `vocab`. */
const ids = (vocab: number, minLength = 0) =>
  custom(
    "an array of token ids",
    (v) => (isIds(v, vocab) && (v as unknown[]).length >= minLength) || v instanceof Int32Array,
    [42, "ids", [1.5], [vocab], [-1], [[0]], ...(minLength > 0 ? [[]] : [])],
  );
const T32 = (spec: Parameters<typeof s.tensor>[0] = {}) => T({ ...spec, dtype: "float32" });
const MAMBA = { vocab_size: 6, hidden_size: 4, num_hidden_layers: 1, state_size: 2 };
const mamba = () => lib.initMamba(MAMBA, rng());
const LLAMA = {
  vocab_size: 6,
  hidden_size: 8,
  intermediate_size: 8,
  num_hidden_layers: 1,
  num_attention_heads: 2,
};
const llama = () => lib.initTransformer(LLAMA, rng());
const mambaModel = () =>
  custom("a Mamba model", () => false, [
    42,
    "m",
    {},
    { config: MAMBA, params: {} },
    { config: {}, params: new Map() },
  ]);
const llamaModel = () =>
  custom("a Transformer++ model", () => false, [
    42,
    "m",
    {},
    { config: LLAMA, params: {} },
    { config: {}, params: new Map() },
  ]);
/** Either of lib's language models (the extrapolation functions take both). */
const eitherModel = () =>
  custom("a Mamba or Transformer++ model", () => false, [42, "m", {}, { params: new Map() }]);
const GENERATE = {
  maxNewTokens: int(0, 1 << 20),
  temperature: s.number({ min: 0 }),
  topK: opt(int(1)),
  rng: opt(s.rng()),
  stopToken: opt(int(0)),
};
const randn = (shape: number[]) => rng().randn(shape, 1, "float32");

/** A folder for the file functions' valid calls (the property test removes it at the end). */
let scratch: string | null = null;
const tmp = (name: string): string => {
  if (scratch === null) scratch = mkdtempSync(path.join(os.tmpdir(), "signatures-"));
  return path.join(scratch, name);
};
export function removeScratch(): void {
  if (scratch !== null) rmSync(scratch, { recursive: true, force: true });
  scratch = null;
}
/** A saved Mamba checkpoint (with a training state) and a saved Transformer++ checkpoint. */
const savedMamba = (): string => {
  const dir = tmp("mamba");
  const model = mamba();
  lib.saveMambaCheckpoint(model, dir);
  const optimizer = lib.createAdamW(model.params);
  lib.saveTrainingState({ step: 0, optimizer: optimizer, rng: rng() }, model, dir);
  return dir;
};
const savedLlama = (): string => {
  const dir = tmp("llama");
  lib.saveTransformerCheckpoint(llama(), dir);
  return dir;
};
const folder = () => s.string();

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
    args: [a("f", s.function()), a("t", s.number()), a("y", null), a("h", s.number())],
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
  // extrapolation/
  attentionEvalBytes: {
    valid: () => [
      lib.llamaConfig({
        vocab_size: 16,
        hidden_size: 16,
        intermediate_size: 16,
        num_hidden_layers: 2,
        num_attention_heads: 4,
      }),
      100,
      2,
    ],
    args: [a("config", null), a("length", int(1, 2 ** 30)), a("batch", opt(int(1, 2 ** 16)))],
  },
  mambaLastLogits: {
    valid: () => [mamba(), [[1, 2, 3]], { prefill: 2 }],
    args: [
      a("model", mambaModel()),
      a("tokens", tokens(6)),
      a("options", opt(options({ prefill: opt(int(1, 2 ** 20)) }))),
    ],
  },
  transformerLastLogits: {
    valid: () => [llama(), [[1, 2, 3]], { chunk: 2 }],
    args: [
      a("model", llamaModel()),
      a("tokens", tokens(6)),
      a("options", opt(options({ chunk: opt(int(1, 2 ** 20)), budgetBytes: opt(pos()) }))),
    ],
  },
  inductionCorrect: {
    valid: () => [mamba(), lib.extrapolationSet(0, 8, 2, 6), { batchSize: 1 }],
    args: [
      a("model", eitherModel()),
      a(
        "set",
        custom("an induction-heads set", () => false, [42, "set", {}, { task: "induction-heads" }]),
      ),
      a(
        "options",
        opt(
          options({
            batchSize: opt(int(1, 2 ** 16)),
            budgetBytes: opt(pos()),
            from: opt(int(0, 0)),
            to: opt(int(0, 2)),
          }),
        ),
      ),
    ],
  },
  inductionExtrapolation: {
    valid: () => [llama(), { lengths: [4, 8], examples: 2, budgetBytes: 1e6 }],
    args: [
      a("model", eitherModel()),
      a(
        "options",
        options({
          lengths: s.numbers({ minLength: 1, maxLength: 64 }),
          examples: int(1, 2 ** 16),
          seed: opt(s.integer()),
          batchSize: opt(int(1, 2 ** 16)),
          budgetBytes: opt(pos()),
        }),
      ),
    ],
  },
  extrapolationSet: {
    valid: () => [0, 8, 2, 16],
    args: [
      a("seed", s.integer({ min: -(2 ** 52), max: 2 ** 52 })),
      a("length", int(3, 2 ** 24)),
      a("count", int(0, 2 ** 16)),
      a("vocabSize", int(3, 2 ** 16)),
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
    args: [a("Abar", T({ rank: 2 })), a("Bbar", T({ rank: 2 })), a("x", T())],
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
    args: [a("f", s.function()), a("N", int(1, 100000)), a("M", opt(int(1, 100000)))],
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
  // charlm/
  charVocabulary: { valid: () => ["abca"], args: [a("text", s.string())] },
  encodeChars: {
    valid: () => [lib.charVocabulary("abc"), "cab"],
    args: [a("vocab", VOCAB), a("text", s.string({ allowEmpty: true }))],
  },
  decodeChars: {
    valid: () => [lib.charVocabulary("abc"), [2, 0, 1]],
    args: [a("vocab", VOCAB), a("ids", idList(3))],
  },
  splitTrainValidation: {
    valid: () => [charIds(), 0.25],
    args: [a("ids", INT32_IDS), a("validationFraction", opt(s.number({ gt: 0, max: 0.9 })))],
  },
  randomWindows: {
    valid: () => [charIds(), rng(), 2, 8],
    args: [
      a("ids", INT32_IDS),
      a("rng", s.rng()),
      a("batch", int(1, MAX_ELEMENTS)),
      a("context", int(1, 39)),
    ],
  },
  validationWindows: {
    valid: () => [charIds(), 8, 2],
    args: [a("ids", INT32_IDS), a("context", int(1, 39)), a("maxWindows", opt(int(1)))],
  },
  bitsPerCharSum: {
    valid: () => [charLogits(), [0, -100]],
    args: [a("logits", T({ rank: 3 })), a("targets", idList(3, true))],
  },
  kneserNey: {
    valid: () => [charIds(), 3, 2],
    args: [a("train", INT32_IDS), a("vocabSize", int(1, 1 << 16)), a("order", int(1, 8))],
  },
  kneserNeyBitsPerChar: {
    valid: () => [lib.kneserNey(charIds(), 3, 2), charIds()],
    args: [a("model", s.object()), a("ids", INT32_IDS)],
  },
  bitsPerChar: {
    valid: () => [charLogits(), [0, 2]],
    args: [a("logits", T({ rank: 3 })), a("targets", idList(3, true))],
  },
  evaluateBitsPerChar: {
    valid: () => [
      (t: { shape: [number, number] }) => ({
        shape: [...t.shape, 3],
        data: new Float64Array(t.shape[0] * t.shape[1] * 3),
      }),
      lib.validationWindows(charIds(), 8),
      2,
    ],
    args: [a("forward", s.function()), a("set", WINDOWS), a("batch", opt(int(1, MAX_ELEMENTS)))],
  },

  // nn: the models' forward ops
  linear: {
    valid: () => [randn([2, 3]), randn([4, 3]), randn([4])],
    args: [
      a("x", T()),
      a("weight", T({ rank: 2, finite: false })),
      a("bias", opt(T({ rank: 1, finite: false }))),
    ],
  },
  rmsNorm: {
    valid: () => [randn([2, 3]), randn([3]), 1e-5],
    args: [a("x", T()), a("weight", T({ rank: 1, finite: false })), a("eps", s.number({ min: 0 }))],
  },
  embedding: {
    valid: () => [Int32Array.from([0, 2]), randn([3, 2]), [1, 2]],
    args: [
      a("ids", int32()),
      a("weight", T({ rank: 2, finite: false })),
      a("shape", s.shape({ rank: 2 })),
    ],
  },
  causalDepthwiseConv1d: {
    valid: () => [randn([1, 2, 5]), randn([2, 1, 3]), randn([2])],
    args: [
      a("x", T({ rank: 3 })),
      a("weight", T({ rank: 3, finite: false })),
      a("bias", opt(T({ rank: 1, finite: false }))),
    ],
  },
  mapTensor: {
    valid: () => [randn([2]), (v: number) => 2 * v],
    args: [a("x", T({ finite: false })), a("f", s.function())],
  },
  siluTensor: { valid: () => [randn([2])], args: [a("x", T({ finite: false }))] },
  softplusTensor: { valid: () => [randn([2])], args: [a("x", T({ finite: false }))] },
  sigmoidTensor: { valid: () => [randn([2])], args: [a("x", T({ finite: false }))] },
  transpose12: { valid: () => [randn([1, 2, 3])], args: [a("x", T({ rank: 3, finite: false }))] },
  sliceLastAxis: {
    valid: () => [randn([2, 4]), 1, 2],
    args: [a("x", T({ finite: false })), a("from", int(0, 4)), a("count", int(0, 3))],
  },
  // checkpoint (bytes; the file functions are EXEMPT as file IO)
  parseSafetensors: {
    valid: () => [lib.serializeSafetensors({ w: randn([2]) })],
    args: [a("bytes", bytes()), a("label", opt(s.string({ allowEmpty: true })))],
  },
  serializeSafetensors: {
    valid: () => [{ w: randn([2]) }, { format: "pt" }],
    args: [a("tensors", s.object()), a("metadata", opt(s.object()))],
  },
  // mamba
  mambaConfig: {
    valid: () => [MAMBA],
    args: [
      a(
        "config",
        s.options(
          {
            vocab_size: int(1, 1 << 20),
            hidden_size: int(1, 1 << 14),
            num_hidden_layers: int(1, 1024),
            state_size: opt(int(1, 1024)),
            expand: opt(int(1, 64)),
            conv_kernel: opt(int(1, 64)),
            time_step_rank: opt(s.present()),
            intermediate_size: opt(s.present()),
            layer_norm_epsilon: opt(pos()),
            use_bias: opt(s.boolean()),
            use_conv_bias: opt(s.boolean()),
            residual_in_fp32: opt(s.boolean()),
            tie_word_embeddings: opt(s.boolean()),
          },
          "a MambaConfig",
        ),
      ),
    ],
  },
  mambaParamShapes: { valid: () => [lib.mambaConfig(MAMBA)], args: [a("config", null)] },
  mambaParamCount: { valid: () => [lib.mambaConfig(MAMBA)], args: [a("config", null)] },
  initMamba: { valid: () => [MAMBA, rng()], args: [a("config", null), a("rng", s.rng())] },
  mambaMixer: {
    valid: () => [mamba(), 0, randn([1, 3, 4]), { engine: "typescript" }],
    args: [
      a("model", mambaModel()),
      a("layer", int(0, 0)),
      a("u", T32({ shape: [null, null, 4] })),
      a(
        "options",
        options({
          engine: opt(s.oneOf(["typescript", "simd", "simd-threads"])),
          returnState: opt(s.boolean()),
        }),
      ),
    ],
  },
  mambaForward: {
    valid: () => [mamba(), [[1, 2, 3]], { engine: "simd" }],
    args: [
      a("model", mambaModel()),
      a("tokens", tokens(6)),
      a(
        "options",
        options({
          engine: opt(s.oneOf(["typescript", "simd", "simd-threads"])),
          variant: opt(s.oneOf(["mamba", "s6", "lti"])),
        }),
      ),
    ],
  },
  createMambaCache: {
    valid: () => [mamba(), 2],
    args: [a("model", mambaModel()), a("batch", int(1, 4096))],
  },
  mambaCacheBytes: {
    valid: () => [lib.createMambaCache(mamba(), 1)],
    args: [
      a(
        "cache",
        custom("a MambaCache", () => false, [42, "c", {}, [1]]),
      ),
    ],
  },
  mambaStep: {
    valid: () => {
      const m = mamba();
      return [m, lib.createMambaCache(m, 2), [1, 2], { engine: "simd" }];
    },
    args: [
      a("model", mambaModel()),
      a(
        "cache",
        custom("a MambaCache", () => false, [42, "c", {}, [1]]),
      ),
      a(
        "tokens",
        custom("2 token ids", (v) => isIds(v, 6) && (v as unknown[]).length === 2, [
          42,
          [1],
          [1, 2, 3],
          [1.5, 1],
          [6, 0],
        ]),
      ),
      a("options", options({ engine: opt(s.oneOf(["typescript", "simd", "simd-threads"])) })),
    ],
  },
  mambaPrefill: {
    valid: () => {
      const m = mamba();
      return [m, lib.createMambaCache(m, 1), [[1, 2]], {}];
    },
    args: [
      a("model", mambaModel()),
      a(
        "cache",
        custom("a MambaCache", () => false, [42, "c", {}, [1]]),
      ),
      a("tokens", tokens(6)),
      a("options", options({ engine: opt(s.oneOf(["typescript", "simd", "simd-threads"])) })),
    ],
  },
  sampleNextToken: {
    valid: () => [[0.1, 0.5, 0.2], 1, 2, rng()],
    args: [
      a("logits", s.numbers({ minLength: 1 })),
      a("temperature", s.number({ min: 0 })),
      a("topK", opt(int(1))),
      a("rng", s.rng()),
    ],
  },
  mambaGenerate: {
    valid: () => [mamba(), [1, 2], { maxNewTokens: 2, temperature: 0 }],
    args: [
      a("model", mambaModel()),
      a("prompt", ids(6, 1)),
      a(
        "options",
        options({ ...GENERATE, engine: opt(s.oneOf(["typescript", "simd", "simd-threads"])) }),
      ),
    ],
  },
  mambaGenerateWithStats: {
    valid: () => [mamba(), [1, 2], { maxNewTokens: 2, temperature: 0 }],
    args: [
      a("model", mambaModel()),
      a("prompt", ids(6, 1)),
      a(
        "options",
        options({ ...GENERATE, engine: opt(s.oneOf(["typescript", "simd", "simd-threads"])) }),
      ),
    ],
  },

  // transformer (Transformer++ baseline)
  ropeInvFreq: {
    valid: () => [4, 10000],
    args: [a("headDim", int(2, 1 << 16)), a("theta", pos())],
  },
  applyRope: {
    valid: () => [randn([1, 2, 3, 4]), 10000, 0],
    args: [a("x", T({ rank: 4 })), a("theta", pos()), a("start", opt(int(0, 2 ** 31)))],
  },
  applyRopeBackward: {
    valid: () => [randn([1, 2, 3, 4]), 10000, 0],
    args: [a("g", T({ rank: 4 })), a("theta", pos()), a("start", opt(int(0, 2 ** 31)))],
  },
  causalAttention: {
    valid: () => [randn([1, 2, 3, 4]), randn([1, 1, 3, 4]), randn([1, 1, 3, 4]), {}],
    args: [
      a("q", T({ rank: 4 })),
      a("k", T({ rank: 4 })),
      a("v", T({ rank: 4 })),
      a("options", options({ offset: opt(int(-3, 3)) })),
    ],
  },
  causalAttentionBackward: {
    valid: () => [
      randn([1, 2, 3, 4]),
      randn([1, 1, 3, 4]),
      randn([1, 1, 3, 4]),
      randn([1, 2, 3, 4]),
    ],
    args: [
      a("q", T({ rank: 4 })),
      a("k", T({ rank: 4 })),
      a("v", T({ rank: 4 })),
      a("g", T({ rank: 4 })),
    ],
  },
  llamaConfig: {
    valid: () => [LLAMA],
    args: [
      a(
        "fields",
        custom("LlamaConfig fields", () => false, [
          42,
          "c",
          [1],
          {},
          { ...LLAMA, vocab_size: 0 },
          { ...LLAMA, hidden_act: "gelu" },
          { ...LLAMA, typo: 1 },
        ]),
      ),
    ],
  },
  transformerParamShapes: { valid: () => [lib.llamaConfig(LLAMA)], args: [a("config", null)] },
  transformerParamCount: { valid: () => [lib.llamaConfig(LLAMA)], args: [a("config", null)] },
  initTransformer: { valid: () => [LLAMA, rng()], args: [a("config", null), a("rng", s.rng())] },
  transformerForward: {
    valid: () => [llama(), [[1, 2, 3]]],
    args: [a("model", llamaModel()), a("tokens", tokens(6))],
  },
  createTransformerCache: {
    valid: () => [llama(), 2],
    args: [a("model", llamaModel()), a("batch", opt(int(1, 4096)))],
  },
  transformerCacheBytes: {
    valid: () => [lib.llamaConfig(LLAMA), 10, 1],
    args: [a("config", null), a("position", int(0)), a("batch", opt(int(1)))],
  },
  transformerStep: {
    valid: () => {
      const m = llama();
      return [m, lib.createTransformerCache(m, 2), [1, 2]];
    },
    args: [
      a("model", llamaModel()),
      a(
        "cache",
        custom("a TransformerCache", () => false, [42, "c", {}, [1]]),
      ),
      a(
        "tokens",
        custom("2 token ids", (v) => isIds(v, 6) && (v as unknown[]).length === 2, [
          42,
          [1],
          [1, 2, 3],
          [1.5, 1],
          [6, 0],
        ]),
      ),
    ],
  },
  transformerPrefill: {
    valid: () => {
      const m = llama();
      return [m, lib.createTransformerCache(m, 1), [[1, 2]]];
    },
    args: [
      a("model", llamaModel()),
      a(
        "cache",
        custom("a TransformerCache", () => false, [42, "c", {}, [1]]),
      ),
      a("tokens", tokens(6)),
    ],
  },
  transformerGenerate: {
    valid: () => [llama(), [1, 2], { maxNewTokens: 2, temperature: 0 }],
    args: [a("model", llamaModel()), a("prompt", ids(6, 1)), a("options", options(GENERATE))],
  },
  transformerGenerateWithStats: {
    valid: () => [llama(), [1, 2], { maxNewTokens: 2, temperature: 0 }],
    args: [a("model", llamaModel()), a("prompt", ids(6, 1)), a("options", options(GENERATE))],
  },
  transformerLossAndGrads: {
    valid: () => [llama(), [[1, 2, 3]], {}],
    args: [
      a("model", llamaModel()),
      a("tokens", tokens(6)),
      a("options", options({ targets: opt(s.present()), mask: opt(s.present()) })),
    ],
  },
  // train: backward passes, optimiser, schedule
  linearBackward: {
    valid: () => [randn([2, 3]), randn([4, 3]), randn([2, 4]), true],
    args: [
      a("x", T()),
      a("weight", T({ rank: 2, finite: false })),
      a("g", T()),
      a("hasBias", opt(s.boolean())),
    ],
  },
  rmsNormBackward: {
    valid: () => [randn([2, 3]), randn([3]), 1e-5, randn([2, 3])],
    args: [
      a("x", T()),
      a("weight", T({ rank: 1, finite: false })),
      a("eps", s.number({ min: 0 })),
      a("g", T()),
    ],
  },
  embeddingBackward: {
    valid: () => [Int32Array.from([0, 2]), 3, randn([1, 2, 2])],
    args: [a("ids", int32()), a("vocab", int(1, MAX_ELEMENTS)), a("g", T())],
  },
  causalDepthwiseConv1dBackward: {
    valid: () => [randn([1, 2, 5]), randn([2, 1, 3]), randn([1, 2, 5]), true],
    args: [
      a("x", T({ rank: 3 })),
      a("weight", T({ rank: 3, finite: false })),
      a("g", T({ rank: 3 })),
      a("hasBias", opt(s.boolean())),
    ],
  },
  siluBackward: { valid: () => [randn([2]), randn([2])], args: [a("x", T()), a("g", T())] },
  softplusBackward: { valid: () => [randn([2]), randn([2])], args: [a("x", T()), a("g", T())] },
  crossEntropy: {
    valid: () => [randn([1, 2, 3]), Int32Array.from([0, 2]), [1, 0.5]],
    args: [a("logits", T()), a("targets", int32()), a("mask", opt(s.numbers()))],
  },
  noWeightDecay: { valid: () => ["backbone.norm_f.weight"], args: [a("name", s.string())] },
  createAdamW: {
    valid: () => [new Map([["w", randn([2])]])],
    args: [
      a(
        "params",
        custom("a Map<string, Tensor>", (v) => v instanceof Map, [42, "p", {}, [1]]),
      ),
    ],
  },
  adamwStep: {
    valid: () => {
      const params = new Map([["w", randn([2])]]);
      return [params, new Map([["w", randn([2])]]), lib.createAdamW(params), { lr: 1e-3 }];
    },
    args: [
      a(
        "params",
        custom("a Map<string, Tensor>", (v) => v instanceof Map, [42, "p", {}, [1]]),
      ),
      a(
        "grads",
        custom("a Map<string, Tensor>", (v) => v instanceof Map, [42, "g", {}, [1]]),
      ),
      a(
        "state",
        custom("an AdamWState", () => false, [42, "s", {}, [1]]),
      ),
      a(
        "options",
        options({
          lr: s.number({ min: 0 }),
          beta1: opt(s.number({ min: 0, max: 0.999 })),
          beta2: opt(s.number({ min: 0, max: 0.999 })),
          eps: opt(pos()),
          weightDecay: opt(s.number({ min: 0 })),
        }),
      ),
    ],
  },
  clipGradNorm: {
    valid: () => [new Map([["w", randn([2])]]), 1],
    args: [
      a(
        "grads",
        custom("a Map<string, Tensor>", (v) => v instanceof Map, [42, "g", {}, [1]]),
      ),
      a("maxNorm", pos()),
    ],
  },
  learningRate: {
    valid: () => [3, { peakLr: 1e-3, warmupSteps: 2, totalSteps: 10 }],
    args: [
      a("step", int(0)),
      a(
        "schedule",
        options({
          peakLr: pos(),
          warmupSteps: int(0),
          totalSteps: int(1),
          minLr: opt(s.number({ min: 0 })),
        }),
      ),
    ],
  },
  selectiveScanForwardTrain: {
    valid: () => [scanArgs(), { strategy: "recompute", chunkSize: 2 }],
    args: [
      a("", null),
      a(
        "options",
        options({ strategy: opt(s.oneOf(["store-all", "recompute"])), chunkSize: opt(int(1)) }),
      ),
    ],
  },
  selectiveScanBackward: {
    valid: () => {
      const { out, cache } = lib.selectiveScanForwardTrain(scanArgs());
      return [cache, out];
    },
    args: [
      a(
        "cache",
        custom("a ScanCache", () => false, [42, "c", {}, [1]]),
      ),
      a("dout", T({ rank: 3 })),
    ],
  },
  scanTrainingMemory: {
    valid: () => [{ batch: 1, dim: 2, length: 8, dstate: 4, chunkSize: 4 }],
    args: [
      a(
        "config",
        s.options({
          batch: int(1),
          dim: int(1),
          length: int(1),
          dstate: int(1),
          chunkSize: opt(int(1)),
          bytesPerElement: opt(int(1)),
        }),
      ),
    ],
  },
  mambaLossAndGrads: {
    valid: () => [mamba(), [[1, 2, 3]], {}],
    args: [
      a("model", mambaModel()),
      a("tokens", tokens(6)),
      a(
        "options",
        options({
          targets: opt(s.present()),
          mask: opt(s.present()),
          variant: opt(s.oneOf(["mamba", "s6", "lti"])),
          scanStrategy: opt(s.oneOf(["store-all", "recompute"])),
          chunkSize: opt(int(1)),
        }),
      ),
    ],
  },
  taskBatch: {
    valid: () => [lib.selectiveCopying(rng(), { count: 2, length: 6, numTokens: 2, vocabSize: 5 })],
    args: [
      a(
        "set",
        custom("a task set", () => false, [42, "s", {}, [1]]),
      ),
    ],
  },
  taskAccuracy: {
    valid: () => [
      mamba(),
      lib.selectiveCopying(rng(), { count: 2, length: 6, numTokens: 2, vocabSize: 5 }),
      { batchSize: 1 },
    ],
    args: [
      a("model", mambaModel()),
      a(
        "set",
        custom("a task set", () => false, [42, "s", {}, [1]]),
      ),
      a(
        "options",
        options({ variant: opt(s.oneOf(["mamba", "s6", "lti"])), batchSize: opt(int(1)) }),
      ),
    ],
  },

  // ssm, conv, selective, tasks, lti, hippo, scan, gpu: the rest of lessons 01-08
  expmWithInfo: { valid: () => [square()], args: [a("A", T({ rank: 2 }))] },
  ssmStep: {
    valid: () => [square(), col(), row(), lib.tensor([0, 0]), 1],
    args: [a("Abar", T()), a("Bbar", T()), a("C", T()), a("h", T()), a("u", s.number())],
  },
  irfft: {
    valid: () => [[1, 0, 0], [0, 0, 0], 4],
    args: [a("re", s.numbers()), a("im", s.numbers()), a("n", int(1, 2 ** 24))],
  },
  selectiveStateUpdate: {
    valid: () => {
      const r = rng();
      return [
        {
          state: r.randn([1, 2, 3]),
          x: r.randn([1, 2]),
          dt: r.rand([1, 2], 0.1, 1),
          A: lib.aFromLog(lib.initALog(2, 3)),
          B: r.randn([1, 3]),
          C: r.randn([1, 3]),
        },
      ];
    },
    args: [a("", null)],
  },
  selectiveScanMatrix: {
    valid: () => [scanArgs(), 0, 1],
    args: [a("", null), a("batch", int(0, 0)), a("channel", int(0, 1))],
  },
  copying: {
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
  accuracyByTarget: {
    valid: () => {
      const set = lib.selectiveCopying(rng(), { count: 2, length: 6, numTokens: 2, vocabSize: 5 });
      return [new Int32Array(set.targets.length), set];
    },
    args: [
      a("predictions", null),
      a(
        "set",
        custom("a task set", () => false, [42, "s", {}, [1]]),
      ),
    ],
  },
  renderExample: {
    valid: () => [lib.inductionHeads(rng(), { count: 2, length: 6, vocabSize: 5 }), 1],
    args: [
      a(
        "set",
        custom("a task set", () => false, [42, "s", {}, [1]]),
      ),
      a("i", int(0, 1)),
    ],
  },
  taskFileText: {
    valid: () => [
      { test: { seed: 1, set: lib.inductionHeads(rng(), { count: 2, length: 6, vocabSize: 5 }) } },
    ],
    args: [
      a(
        "splits",
        custom("an object of splits", () => false, [42, "s", [1], { test: 1 }]),
      ),
    ],
  },
  taskSetFromFile: {
    valid: () => [
      JSON.parse(
        lib.taskFileText({
          test: { seed: 1, set: lib.inductionHeads(rng(), { count: 2, length: 6, vocabSize: 5 }) },
        }),
      ),
      "test",
    ],
    args: [
      a(
        "file",
        custom("a task file", () => false, [42, "f", [1], {}]),
      ),
      a(
        "split",
        custom('the split "test"', (v) => v === "test", [42, "train", ""]),
      ),
    ],
  },
  ltiLogits: {
    valid: () => [
      lib.fitLtiKernel(lib.inductionHeads(rng(), { count: 4, length: 6, vocabSize: 5 }), {
        kernelLength: 2,
      }),
      [1, 2, 3],
    ],
    args: [
      a(
        "model",
        custom("an LTI token model", () => false, [42, "m", {}, [1]]),
      ),
      a("tokens", ids(5)),
    ],
  },
  ltiPredict: {
    valid: () => {
      const set = lib.inductionHeads(rng(), { count: 4, length: 6, vocabSize: 5 });
      return [lib.fitLtiKernel(set, { kernelLength: 2 }), set];
    },
    args: [
      a(
        "model",
        custom("an LTI token model", () => false, [42, "m", {}, [1]]),
      ),
      a(
        "set",
        custom("a task set", () => false, [42, "s", {}, [1]]),
      ),
    ],
  },
  hippoScan: {
    valid: () => {
      const { A, B } = lib.hippoLegS(3);
      return [A, B, lib.tensor([1, 2, 3, 4]), "bilinear"];
    },
    args: [
      a("A", T({ rank: 2 })),
      a("B", T()),
      a("f", T({ rank: 1 })),
      a("method", opt(s.oneOf(["bilinear", "zoh", "euler"]))),
    ],
  },
  s4dKernel: {
    valid: () => [lib.s4dLin(2), { re: lib.tensor([1, 1]) }, 0.1, 4],
    args: [
      a(
        "ssm",
        custom("a diagonal SSM", () => false, [42, "s", {}, [1]]),
      ),
      a(
        "C",
        custom("{ re, im? }", () => false, [42, "c", {}, [1]]),
      ),
      a("dt", pos()),
      a("L", int(0, MAX_ELEMENTS)),
    ],
  },
  blellochUpSweep: {
    valid: () => [
      [0.5, 0.5, 0.5, 0.5],
      [1, 1, 1, 1],
    ],
    args: [a("a", s.numbers({ minLength: 1 })), a("b", s.numbers({ minLength: 1 }))],
  },
  blellochDownSweep: {
    valid: () => [
      [0.5, 0.5, 0.5, 0.5],
      [1, 1, 1, 1],
    ],
    args: [a("a", s.numbers({ minLength: 1 })), a("b", s.numbers({ minLength: 1 }))],
  },
  scanDiagram: {
    valid: () => [lib.scanSchedule(4, "blelloch"), { title: "t" }],
    args: [
      a("schedule", null),
      a("options", options({ title: opt(s.string({ allowEmpty: true })) })),
    ],
  },
  selectiveScanLowerBound: {
    valid: () => [
      { batch: 1, dim: 2, length: 8, dstate: 4 },
      { expsPerSecond: 1e9, bytesPerSecond: 1e10 },
    ],
    args: [
      a("size", null),
      a("limits", s.options({ expsPerSecond: pos(), bytesPerSecond: pos() }, "MachineLimits")),
    ],
  },
  chunkSummaryReference: {
    valid: () => [
      [[1, 2, 3]],
      [[0.1, 0.2, 0.3]],
      [[-1, -2]],
      [
        [1, 1, 1],
        [0, 1, 0],
      ],
      2,
    ],
    args: [a("u", null), a("delta", null), a("A", null), a("B", null), a("T", int(1))],
  },
  idealFusedTraffic: {
    valid: () => [{ batch: 1, dim: 2, length: 8, dstate: 4 }, { returnLastState: true }],
    args: [a("size", null), a("options", options({ returnLastState: opt(s.boolean()) }))],
  },

  // checkpoint and training-state files (in a temporary folder)
  readSafetensors: {
    valid: () => {
      lib.writeSafetensors(tmp("w.safetensors"), { w: randn([2]) });
      return [tmp("w.safetensors")];
    },
    args: [a("path", folder()), a("options", options({ maxBytes: opt(int(8, 2 ** 31 - 1)) }))],
  },
  writeSafetensors: {
    valid: () => [tmp("v.safetensors"), { w: randn([2]) }, { format: "pt" }],
    args: [a("path", folder()), a("tensors", s.object()), a("metadata", opt(s.object()))],
  },
  readConfigJson: {
    valid: () => {
      lib.writeConfigJson(tmp("c.json"), { a: 1 });
      return [tmp("c.json")];
    },
    args: [a("path", folder())],
  },
  writeConfigJson: {
    valid: () => [tmp("d.json"), { a: 1 }, { b: 2 }],
    args: [a("path", folder()), a("config", s.object()), a("keep", opt(s.object()))],
  },
  loadMambaCheckpoint: {
    valid: () => [savedMamba(), {}],
    args: [a("dir", folder()), a("options", options({ keep: opt(s.oneOf(["bf16", "f16"])) }))],
  },
  saveMambaCheckpoint: {
    valid: () => [mamba(), tmp("mamba-save")],
    args: [a("model", mambaModel()), a("dir", folder())],
  },
  loadTransformerCheckpoint: { valid: () => [savedLlama()], args: [a("dir", folder())] },
  saveTransformerCheckpoint: {
    valid: () => [llama(), tmp("llama-save")],
    args: [a("model", llamaModel()), a("dir", folder())],
  },
  saveTrainingState: {
    valid: () => {
      const model = mamba();
      return [{ step: 1, optimizer: lib.createAdamW(model.params), rng: rng() }, model, tmp("st")];
    },
    args: [
      a(
        "state",
        custom("a TrainingState", () => false, [42, "s", {}, [1], { step: 0 }]),
      ),
      a("model", mambaModel()),
      a("dir", folder()),
    ],
  },
  loadTrainingState: {
    valid: () => {
      const dir = savedMamba();
      return [dir, lib.loadMambaCheckpoint(dir)];
    },
    args: [a("dir", folder()), a("model", mambaModel())],
  },
};
