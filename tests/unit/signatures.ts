/**
 * What each exported function of `lib/src/index.ts` accepts: one row per function,
 * `name: [valid call's arguments, "argument:type ...", call?]`, the types written from the
 * documented contract (not read from lib's code) and turned into lib's own `schema.*` helpers.
 * `bad-input.property.test.ts` replaces one argument at a time by values its schema rejects and
 * expects an Error naming the function and the argument; it fails for an exported function that
 * is neither in this table nor in its commented EXEMPT list.
 *
 * Types (see `parse` below): `T`, `T1` … `T4` a tensor of finite values (of that rank), `T*`,
 * `T2*` … values may be non-finite; `int`, `num` with bounds `[min,max]`, `(gt,max]` or `[min,]`
 * (`MAX` = validate.ts's MAX_ELEMENTS, `2^k`, `2^k-1`); `pos`; `bool`; `str` (non-empty), `text`;
 * `dtype` (float32 or float64); `fn`; `rng`; `obj`; `any` (present, checked by the function
 * itself); `nums`, `nums[min,max]` (array lengths); `shape`, `shape2` (2 entries), `shape*` (no
 * element cap); `a|b|c` one of these strings; `{key:type key?:type}` an options object (unknown
 * keys refused); `@NAME` a schema from `NAMED`. `name?:type` is optional (undefined or null
 * accepted); a bare `name` is not driven.
 * The argument object of the scans (`selectiveScan({ u, delta, ... })`) is named `_`.
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

// ---- Schemas written here for what lib checks by hand (typed arrays, models, sets, ids) -------
const custom = (expected: string, invalid: unknown[], ok: (v: unknown) => boolean): Schema => ({
  expected,
  optional: false,
  problem: (v) => (ok(v) ? null : `${expected} (got ${describe(v)})`),
  invalid: () => [undefined, null, ...invalid],
});
/** An instance of `type` (a typed array, a Map); plain arrays and other typed arrays fail. */
const instance = (expected: string, type: new () => unknown, ...invalid: unknown[]): Schema =>
  custom(expected, [42, {}, [1, 2], new Float32Array(2), ...invalid], (v) => v instanceof type);
/** An object only lib's own functions make (a model, a cache, a task set): nothing else passes. */
const made = (expected: string, ...invalid: unknown[]): Schema =>
  custom(expected, [42, "x", {}, [1], ...invalid], () => false);
const isIds = (v: unknown, vocab: number): boolean =>
  Array.isArray(v) &&
  v.every((x) => typeof x === "number" && Number.isInteger(x) && x >= 0 && x < vocab);
/** Ids in [0, V), a plain array or an Int32Array; with `skip`, -100 (an ignored target) too. */
const idList = (V: number, skip = false) =>
  custom(
    `an array of ids in [0, ${V})`,
    [[V], [-1], [0.5], "0", 7],
    (v) =>
      (Array.isArray(v) || v instanceof Int32Array) &&
      Array.from(v as ArrayLike<unknown>).every(
        (x) =>
          (skip && x === -100) || (Number.isInteger(x) && 0 <= (x as number) && (x as number) < V),
      ),
  );
const MAMBA = { vocab_size: 6, hidden_size: 4, num_hidden_layers: 1, state_size: 2 };
const LLAMA = {
  vocab_size: 6,
  hidden_size: 8,
  intermediate_size: 8,
  num_hidden_layers: 1,
  num_attention_heads: 2,
};
const MAMBA2 = {
  vocab_size: 6,
  hidden_size: 4,
  num_hidden_layers: 1,
  state_size: 2,
  head_dim: 4,
  n_groups: 1,
  chunk_size: 2,
};
const BROKEN_MODEL = { config: {}, params: new Map() };

/** The `@NAME` types. */
const NAMED: Record<string, Schema> = {
  MAMBA_MODEL: made("a Mamba model", { config: MAMBA, params: {} }, BROKEN_MODEL),
  LLAMA_MODEL: made("a Transformer++ model", { config: LLAMA, params: {} }, BROKEN_MODEL),
  EITHER_MODEL: made("a Mamba, Mamba-2 or Transformer++ model", { params: new Map() }),
  MAMBA_CACHE: made("a MambaCache"),
  MAMBA2_MODEL: made("a Mamba-2 model", { config: MAMBA2, params: {} }, BROKEN_MODEL),
  MAMBA2_CACHE: made("a Mamba2Cache"),
  LLAMA_CACHE: made("a TransformerCache"),
  SCAN_CACHE: made("a ScanCache"),
  ADAMW_STATE: made("an AdamWState"),
  TRAINING_STATE: made("a TrainingState", { step: 0 }),
  TASK_SET: made("a task set"),
  INDUCTION_SET: made("an induction-heads set", { task: "induction-heads" }),
  TASK_FILE: made("a task file"),
  SPLITS: made("an object of splits", { test: 1 }),
  LTI_MODEL: made("an LTI token model"),
  DIAGONAL_SSM: made("a diagonal SSM"),
  COMPLEX_C: made("{ re, im? }"),
  LLAMA_FIELDS: made(
    "LlamaConfig fields",
    { ...LLAMA, vocab_size: 0 },
    { ...LLAMA, hidden_act: "gelu" },
    { ...LLAMA, typo: 1 },
  ),
  PARAMS: instance("a Map<string, Tensor>", Map),
  INT32: instance("an Int32Array", Int32Array, "ids"),
  INT32_IDS: instance("an Int32Array of ids", Int32Array, "01"),
  BYTES: instance("a Uint8Array", Uint8Array, "b"),
  IDS3: idList(3),
  TARGETS3: idList(3, true),
  /** A (b, l) batch of ids below 6, as number[][] (the Int32Array tensor form is also valid). */
  TOKENS: custom(
    "a (b, l) batch of token ids",
    [42, "ids", [[1.5]], [[1, 2], [1]], [[6]], [[-1]], [1, 2], { shape: [1, 1], data: [0] }],
    (v) =>
      (Array.isArray(v) &&
        v.every((r) => isIds(r, 6) && (r as unknown[]).length === (v[0] as unknown[]).length)) ||
      (typeof v === "object" && v !== null && (v as { data?: unknown }).data instanceof Int32Array),
  ),
  /** A prompt: at least one id below 6. */
  PROMPT: custom(
    "an array of token ids",
    [42, "ids", [1.5], [6], [-1], [[0]], []],
    (v) => (isIds(v, 6) && (v as unknown[]).length >= 1) || v instanceof Int32Array,
  ),
  LTI_TOKENS: custom(
    "an array of token ids",
    [42, "ids", [1.5], [5], [-1], [[0]]],
    (v) => isIds(v, 5) || v instanceof Int32Array,
  ),
  /** One id below 6 per sequence of a batch of 2 (a decoding step). */
  STEP: custom(
    "2 token ids",
    [42, [1], [1, 2, 3], [1.5, 1], [6, 0]],
    (v) => isIds(v, 6) && (v as unknown[]).length === 2,
  ),
  VOCAB: custom(
    "a character vocabulary",
    [{}, "abc", { chars: ["a"] }, { chars: [], ids: new Map() }],
    (v) => {
      const c = v as Partial<lib.CharVocabulary> | null;
      const n = c?.ids instanceof Map && Array.isArray(c.chars) ? c.chars.length : 0;
      return n > 0 && n === c?.ids?.size;
    },
  ),
  WINDOWS: custom(
    "windows from validationWindows",
    [{}, [1, 2], { tokens: { shape: [1, 1], data: new Int32Array(1) } }],
    (v) => {
      const w = v as Partial<lib.CharWindows> | null;
      const [t, y] = [w?.tokens?.data, w?.targets?.data];
      return t instanceof Int32Array && y instanceof Int32Array && t.length === y.length;
    },
  ),
  TEST_SPLIT: custom('the split "test"', [42, "train", ""], (v) => v === "test"),
  U4: s.tensor({ shape: [null, null, 4], dtype: "float32" }),
  SCAN_SIZES: options(
    "{batch:int[1,MAX] dim:int[1,MAX] length:int[1,MAX] dstate:int[1,256] groups:int[1,MAX] " +
      "softplus:bool hasZ:bool}",
    "scan sizes",
  ),
  MACHINE_LIMITS: options("{expsPerSecond:pos bytesPerSecond:pos}", "MachineLimits"),
  MAMBA_CONFIG: options(
    "{vocab_size:int[1,2^20] hidden_size:int[1,2^16] num_hidden_layers:int[1,1024] " +
      "state_size?:int[1,1024] expand?:int[1,64] conv_kernel?:int[1,64] time_step_rank?:any " +
      "intermediate_size?:any layer_norm_epsilon?:pos use_bias?:bool use_conv_bias?:bool " +
      "residual_in_fp32?:bool tie_word_embeddings?:bool}",
    "a MambaConfig",
  ),
  MAMBA2_CONFIG: options(
    "{vocab_size:int[1,2^20] hidden_size:int[1,2^16] num_hidden_layers:int[1,1024] " +
      "state_size?:int[1,1024] expand?:int[1,64] conv_kernel?:int[1,64] num_heads?:int[1,2^16] " +
      "head_dim?:int[1,2^16] n_groups?:int[1,2^16] chunk_size?:int[1,4096] " +
      "layer_norm_epsilon?:pos use_bias?:bool use_conv_bias?:bool residual_in_fp32?:bool " +
      "tie_word_embeddings?:bool time_step_limit?:any}",
    "a Mamba2Config",
  ),
  SSD_INPUTS: options("{X:T4 A:T3 B:T4 C:T4}", "{ X, A, B, C }"),
};

// ---- The type language ------------------------------------------------------------------------
function bound(text: string): number | undefined {
  if (text === "") return undefined;
  if (text === "MAX") return MAX_ELEMENTS;
  const pow = /^(-?)2\^(\d+)(-1)?$/.exec(text);
  if (pow) return (pow[1] ? -1 : 1) * 2 ** Number(pow[2]) - (pow[3] ? 1 : 0);
  const n = Number(text);
  if (!Number.isFinite(n)) throw new Error(`signatures: bad bound ${JSON.stringify(text)}`);
  return n;
}

/** The schema of one type (see the module comment). */
function parse(type: string): Schema {
  if (type.startsWith("@")) {
    if (!(type.slice(1) in NAMED)) throw new Error(`signatures: no type ${type}`);
    return NAMED[type.slice(1)];
  }
  if (type.startsWith("{")) return options(type);
  if (type.includes("|")) return s.oneOf(type.split("|"));
  const tensor = /^T([1-4]?)(\*?)$/.exec(type);
  if (tensor) {
    const rank = tensor[1] ? Number(tensor[1]) : undefined;
    return s.tensor(tensor[2] ? { rank, finite: false } : { rank });
  }
  const ranged = /^(int|num|nums)(?:([[(])(-?[\w^.-]*),([\w^.-]*)\])?$/.exec(type);
  if (ranged) {
    const [, kind, open, lo = "", hi = ""] = ranged;
    if (kind === "nums") return s.numbers({ minLength: bound(lo), maxLength: bound(hi) });
    const bounds =
      open === "(" ? { gt: bound(lo), max: bound(hi) } : { min: bound(lo), max: bound(hi) };
    return kind === "int" ? s.integer(bounds) : s.number(bounds);
  }
  const simple: Record<string, () => Schema> = {
    pos: () => s.positive(),
    bool: () => s.boolean(),
    str: () => s.string(),
    text: () => s.string({ allowEmpty: true }),
    fn: () => s.function(),
    rng: () => s.rng(),
    obj: () => s.object(),
    any: () => s.present(),
    dtype: () => s.oneOf(["float32", "float64"]),
    shape: () => s.shape(),
    shape2: () => s.shape({ rank: 2 }),
    "shape*": () => s.shape({ maxElements: Infinity }),
  };
  if (!(type in simple)) throw new Error(`signatures: unknown type ${JSON.stringify(type)}`);
  return simple[type]();
}

/** `name:type` pairs separated by spaces (braces group an options object's fields). */
function fields(text: string): [name: string, optional: boolean, type: string | null][] {
  const parts = text.match(/[^\s{]+(?:\{[^}]*\})?|\{[^}]*\}/g) ?? [];
  return parts.map((part) => {
    const colon = part.indexOf(":");
    const name = colon < 0 ? part : part.slice(0, colon);
    const optional = name.endsWith("?");
    const bare = optional ? name.slice(0, -1) : name;
    return [bare === "_" ? "" : bare, optional, colon < 0 ? null : part.slice(colon + 1)];
  });
}

/** An options object from `{key:type key?:type ...}`; `what` names it in messages. */
function options(text: string, what?: string): Schema {
  const body = /^\{(.*)\}$/.exec(text.trim());
  if (!body) throw new Error(`signatures: not an options object: ${text}`);
  const schemas: Record<string, Schema> = {};
  for (const [name, optional, type] of fields(body[1])) {
    const inner = parse(type ?? "any");
    schemas[name] = optional ? s.optional(inner) : inner;
  }
  return s.options(schemas, what);
}

// ---- Valid calls ------------------------------------------------------------------------------
const rng = () => new lib.Rng(7);
const mat = (rows: number[][]) => lib.tensor(rows);
const vec = (...v: number[]) => lib.tensor(v);
const square = () =>
  mat([
    [-1, 0.5],
    [0, -2],
  ]);
const col = () => mat([[1], [0.5]]);
const row = () => mat([[1, 2]]);
const randn = (...shape: number[]) => rng().randn(shape, 1, "float32");
const spring = () => lib.dampedSpring(1, 0.5);
const field = (_t: number, y: Float64Array) => y;
const scanArgs = () =>
  lib.randomSelectiveScanArgs(rng(), { batch: 1, dim: 2, length: 4, dstate: 2 });
const DIMS = { batch: 1, dim: 2, length: 8, dstate: 4, groups: 1, softplus: true, hasZ: false };
const dims = () => ({ ...DIMS });
const size = () => ({ batch: 1, dim: 2, length: 8, dstate: 4 });
const COPYING = { count: 2, length: 6, numTokens: 2, vocabSize: 5 };
const copySet = () => lib.selectiveCopying(rng(), COPYING);
const inductionSet = (count = 2) => lib.inductionHeads(rng(), { count, length: 6, vocabSize: 5 });
/** Predictions (all 0) for a selective-copying set, and the set. */
const predictions = () => {
  const set = copySet();
  return [new Int32Array(set.targets.length), set];
};
/** HiPPO-LegS's A and B for N = 3. */
const legS = () => {
  const { A, B } = lib.hippoLegS(3);
  return [A, B];
};
const taskFile = () => ({ test: { seed: 1, set: inductionSet() } });
const ltiModel = () => lib.fitLtiKernel(inductionSet(4), { kernelLength: 2 });
const charIds = () => Int32Array.from({ length: 40 }, (_, i) => i % 3);
const charLogits = () => ({ shape: [1, 2, 3], data: Float64Array.from([0, 1, 2, 2, 1, 0]) });
const charForward = (t: { shape: [number, number] }) => ({
  shape: [...t.shape, 3],
  data: new Float64Array(t.shape[0] * t.shape[1] * 3),
});
const mamba = () => lib.initMamba(MAMBA, rng());
const llama = () => lib.initTransformer(LLAMA, rng());
const mamba2 = () => lib.initMamba2(MAMBA2, rng());
/** SSD inputs: X (1, 3, 2, 2), A (1, 3, 2), B and C (1, 3, 1, 2). */
const ssdInputs = () => ({
  X: randn(1, 3, 2, 2),
  A: randn(1, 3, 2),
  B: randn(1, 3, 1, 2),
  C: randn(1, 3, 1, 2),
});
const params = () => new Map([["w", randn(2)]]);
const rngMethod =
  (m: string) =>
  (...args: unknown[]) =>
    (rng() as unknown as Record<string, (...x: unknown[]) => unknown>)[m](...args);

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
/** A saved Mamba checkpoint with a training state. */
const savedMamba = (): string => {
  const dir = tmp("mamba");
  const model = mamba();
  lib.saveMambaCheckpoint(model, dir);
  const state = { step: 0, optimizer: lib.createAdamW(model.params), rng: rng() };
  lib.saveTrainingState(state, model, dir);
  return dir;
};

// ---- The table --------------------------------------------------------------------------------
type Row = [valid: () => unknown[], types: string, call?: Signature["call"]];
/** The same row for several functions. */
const each = (names: string[], r: Row): Record<string, Row> =>
  Object.fromEntries(names.map((n) => [n, r]));
/** The options of the generate functions (vocabulary 6; Mamba's add its engines). */
const GENERATE =
  "maxNewTokens:int[0,2^20] temperature:num[0,] topK?:int[1,] rng?:rng stopToken?:int[0,5]";

const table: Record<string, Row> = {
  // tensor.ts, linalg/
  ...each(["numel", "strides"], [() => [[2, 3]], "shape:shape*"]),
  allocate: [() => ["float64", 3], "dtype:dtype length:int[0,MAX]"],
  zeros: [() => [[2, 3], "float32"], "shape:shape dtype?:dtype"],
  ...each(["dtypeOf", "toNested"], [() => [mat([[1]])], "t:T*"]),
  astype: [() => [mat([[1]]), "float32"], "t:T* dtype:dtype"],
  maxAbsDiff: [() => [mat([[1]]), mat([[2]])], "a:T* b:T*"],
  fromFloat64: [() => [[2], new Float64Array(2), "float32"], "shape:shape data dtype:dtype"],
  tensor: [() => [[[1, 2]], "float32"], "values dtype?:dtype"],
  identity: [() => [3], "n:int[0,2^13]"],
  matmul: [() => [square(), col()], "A:T2 B:T2"],
  transpose: [() => [square()], "A:T2*"],
  matvec: [() => [square(), vec(1, 2)], "A:T2 x:T1"],
  norm: [() => [square(), "fro"], "A:T kind?:fro|1|inf|2"],
  solve: [() => [square(), vec(1, 2)], "A:T2 B:T"],
  ...each(
    ["lu", "inverse", "det", "eigvals", "spectralAbscissa", "spectralRadius"],
    [() => [square()], "A:T2"],
  ),
  // rng.ts: the constructor and the methods
  Rng: [() => [1], "seed:int", (seed) => new lib.Rng(seed as number)],
  "Rng#int": [() => [3], "n:int[1,]", rngMethod("int")],
  "Rng#uniform": [() => [0, 1], "lo?:num hi?:num", rngMethod("uniform")],
  "Rng#normal": [() => [0, 1], "mean?:num std?:num[0,]", rngMethod("normal")],
  "Rng#randn": [
    () => [[2, 2], 1, "float32"],
    "shape:shape std?:num[0,] dtype?:dtype",
    rngMethod("randn"),
  ],
  "Rng#rand": [() => [[2], 0, 1], "shape:shape lo?:num hi?:num", rngMethod("rand")],
  "Rng#permutation": [() => [5], "n:int[0,2^24]", rngMethod("permutation")],
  // exercises, display, timing
  exponentialMovingAverage: [() => [[1, 2, 3], 0.5], "x:nums alpha:num[0,1]"],
  lineChart: [
    () => [[{ name: "a", y: [1, 2] }], { title: "t" }],
    "series " +
      "options:{title?:text xLabel?:text yLabel?:text logX?:bool logY?:bool height?:int[50,10000]}",
  ],
  heatmap: [() => [[[1, 2]], { title: "t" }], "z options:{title?:text colorscale?:str}"],
  progress: [() => ["work", 3], "label total:int[1,]"],
  timeMs: [
    () => [() => 0, { repeats: 1, minMs: 0.01 }],
    "fn:fn options:{repeats?:int[1,1000] minMs?:num(0,60000]}",
  ],
  ...each(
    ["powerLawFit", "quadraticFit"],
    [
      () => [
        [1, 2, 4],
        [1, 4, 16],
      ],
      "x y",
    ],
  ),
  // conv/, ssm/
  ssmKernel: [() => [square(), col(), row(), 4], "Abar:T Bbar:T C:T L:int[0,2^28]"],
  ...each(["causalConv", "fftConv"], [() => [mat([[1, 2, 3]]), vec(1, 0.5)], "x:T K:T"]),
  ssmRecurrence: [() => [square(), col(), row(), vec(1, 2, 3)], "Abar:T Bbar:T C:T x:T"],
  ssmStep: [() => [square(), col(), row(), vec(0, 0), 1], "Abar:T Bbar:T C:T h:T u:num"],
  nextPow2: [() => [5], "n:int[1,2^30]"],
  ...each(["fftPlan", "rfftPlan"], [() => [8], "n"]),
  ...each(["fft", "ifft"], [() => [[1, 2, 3, 4]], "re:nums[1,]"]),
  rfft: [() => [[1, 2, 3]], "x:nums"],
  irfft: [() => [[1, 0, 0], [0, 0, 0], 4], "re:nums im:nums n:int[1,2^24]"],
  ...each(["expm", "expmWithInfo", "stability"], [() => [square()], "A:T2"]),
  expmDiagonal: [() => [vec(-1, -2)], "a:T1"],
  discretize: [() => [square(), col(), 0.1, "zoh"], "A:T2 B:T dt:pos method:zoh|bilinear|euler"],
  discretizeDiagonal: [
    () => [vec(-1, -2), vec(1, 1), 0.1, "zoh"],
    "a:T1 B:T dt:pos method:zoh|bilinear|euler",
  ],
  discreteStates: [() => [square(), col(), mat([[1], [2]])], "Abar:T Bbar:T x:T"],
  rk4Step: [() => [field, 0, [1], 0.1], "f:fn t:num y h:num"],
  odeRk4: [() => [field, [1], 0, 1, 4], "f:fn y0 t0:num t1:num steps:int[1,]"],
  odeDormandPrince: [
    () => [field, [1], 0, 1, {}],
    "f:fn y0 t0:num t1:num " +
      "options:{rtol?:num[0,] atol?:num[0,] tEval?:nums firstStep?:pos maxSteps?:int[1,1e7]}",
  ],
  leakyIntegrator: [() => [2], "tau?:pos"],
  dampedSpring: [() => [1, 0.2], "omega?:pos zeta?:num"],
  simulateExact: [() => [spring(), vec(1, 0), 0.1], "ssm x:T dt:pos"],
  simulateRk4: [
    () => [spring(), vec(1, 0), 0.1, { substeps: 2 }],
    "ssm x:T dt:pos options:{substeps?:int[1,10000] h0?:any}",
  ],
  simulateAdaptive: [
    () => [spring(), vec(1, 0), 0.1, {}],
    "ssm x:T dt:pos options:{rtol?:num[0,] atol?:num[0,] h0?:any}",
  ],
  freeResponse: [() => [square(), vec(1, 0), [0, 0.5]], "A:T2 h0:T1 t:nums"],
  ...each(["impulseResponse", "stepResponse"], [() => [spring(), [0, 0.5]], "ssm t:nums"]),
  ssmVectorField: [() => [spring(), () => 1], "ssm x"],
  // hippo/
  hippoLegS: [() => [3], "N:int[1,4096]"],
  ...each(["s4dReal", "s4dLin"], [() => [3], "N:int[1,]"]),
  s4dKernel: [
    () => [lib.s4dLin(2), { re: vec(1, 1) }, 0.1, 4],
    "ssm:@DIAGONAL_SSM C:@COMPLEX_C dt:pos L:int[0,2^28]",
  ],
  legendreP: [() => [3, [0, 0.5]], "N:int[1,100000] x"],
  gaussLegendre: [() => [4], "M:int[1,100000]"],
  legendreReconstruct: [() => [vec(1, 0.5), [0, 0.5]], "c:T1 u"],
  legendreProject: [() => [(u: number) => u, 3, 8], "f:fn N:int[1,100000] M?:int[1,100000]"],
  hippoMemoryMatrix: [() => [...legS(), 8], "A:T2 B:T L"],
  minNormReconstruct: [() => [mat([[1, 0.5, 0.25]]), vec(1), 1e-9], "M:T2 c:T1 ridge"],
  hippoScan: [
    () => [...legS(), vec(1, 2, 3, 4), "bilinear"],
    "A:T2 B:T f:T1 method?:bilinear|zoh|euler",
  ],
  // selective/, selective-fast/
  ...each(["softplus", "sigmoid", "silu"], [() => [1], "x"]),
  inverseSoftplus: [() => [1], "y:pos"],
  selectiveScan: [() => [scanArgs()], "_"],
  selectiveScanMatrix: [() => [scanArgs(), 0, 1], "_ batch:int[0,0] channel:int[0,1]"],
  selectiveStateUpdate: [
    () => {
      const r = rng();
      const A = lib.aFromLog(lib.initALog(2, 3));
      const [x, B, C] = [r.randn([1, 2]), r.randn([1, 3]), r.randn([1, 3])];
      return [{ state: r.randn([1, 2, 3]), x, dt: r.rand([1, 2], 0.1, 1), A, B, C }];
    },
    "_",
  ],
  initALog: [() => [2, 3], "dim:int[0,] dstate:int[0,]"],
  aFromLog: [() => [mat([[0, 1]])], "ALog:T2"],
  logUniformDt: [() => [0.5, 0.001, 0.1], "v:num[0,1] dtMin dtMax"],
  initS6: [() => [rng(), { dim: 2, dstate: 2 }], "rng:rng options"],
  initDtBias: [
    () => [rng(), 3, {}],
    "rng:rng dim:int[0,MAX] options:{dtMin?:any dtMax?:any dtInitFloor?:any}",
  ],
  s6Project: [
    () => [rng().randn([1, 2, 3]), lib.initS6(rng(), { dim: 2, dstate: 2 })],
    "x:T3 params",
  ],
  s6: [
    () => [rng().randn([1, 2, 3]), lib.initS6(rng(), { dim: 2, dstate: 2 }), {}],
    "x:T3 params options:{z?:any returnLastState?:bool}",
  ],
  selectiveScanFast: [
    () => [scanArgs(), { engine: "js" }],
    "_ options:{engine?:wasm|js tile?:int[1,2^16]}",
  ],
  selectiveScanLowerBound: [
    () => [size(), { expsPerSecond: 1e9, bytesPerSecond: 1e10 }],
    "size limits:@MACHINE_LIMITS",
  ],
  createTrainPool: [() => [{ threads: 1 }], "options:{threads?:int[1,64]}"],
  // scan/
  combine: [
    () => [
      [0.5, 1],
      [0.5, 2],
    ],
    "first second",
  ],
  applyPair: [() => [[0.5, 1], 2], "pair h:num"],
  linearScan: [
    () => [vec(0.5, 0.5), vec(1, 1), { algorithm: "blelloch" }],
    `a:T b:T options:{algorithm?:${lib.SCAN_ALGORITHMS.join("|")} chunkSize?:int[1,] stats?:obj}`,
  ],
  linearScanByCumprod: [
    () => [vec(0.5, 0.5), vec(1, 1), { dtype: "float64" }],
    "a:T1 b:T1 options",
  ],
  ...each(
    ["blellochUpSweep", "blellochDownSweep"],
    [
      () => [
        [0.5, 0.5, 0.5, 0.5],
        [1, 1, 1, 1],
      ],
      "a:nums[1,] b:nums[1,]",
    ],
  ),
  scanSchedule: [
    () => [8, "chunked", { chunkSize: 3 }],
    `length:int[1,4096] algorithm:${lib.SCAN_ALGORITHMS.join("|")} options:{chunkSize?:int[1,]}`,
  ],
  runScanSchedule: [
    () => [lib.scanSchedule(2, "sequential"), vec(0.5, 0.5), vec(1, 1)],
    "schedule a:T1 b:T1",
  ],
  scheduleCost: [() => [lib.scanSchedule(4, "blelloch")], "schedule"],
  scanDiagram: [
    () => [lib.scanSchedule(4, "blelloch"), { title: "t" }],
    "schedule options:{title?:text}",
  ],
  randomSelectiveScanArgs: [() => [rng(), { batch: 1, dim: 1, length: 2, dstate: 1 }], "rng size"],
  // gpu/: plans, kernel sources and traffic (no GPU needed)
  scanLaunchPlan: [
    () => [dims(), "chunked", 4, false],
    "dims:@SCAN_SIZES variant:naive|chunked T:int[1,4096] packed?:bool",
  ],
  ...each(
    ["deltaKernelSource", "expandDecaySource", "expandInputSource", "naiveOutputSource"],
    [() => [dims()], "dims:@SCAN_SIZES"],
  ),
  ...each(
    ["chunkInputSource", "chunkDecaySource"],
    [() => [dims(), 4], "dims:@SCAN_SIZES T:int[1,4096]"],
  ),
  chunkedOutputSource: [() => [dims(), 4, false], "dims:@SCAN_SIZES T:int[1,4096] packed?:bool"],
  packSource: [() => [dims(), "A"], "dims:@SCAN_SIZES which:A|BC"],
  ...each(
    ["planWgslScan", "wgslScanSource"],
    [
      () => [dims(), { channels: 2, lanes: 1, chunk: 4 }, 16384],
      "dims:@SCAN_SIZES options?:{channels?:int[1,256] lanes?:int[1,8] chunk?:int[1,64]} workgroupBytes?:int[1,]",
    ],
  ),
  lastStateSource: [() => [3], "index:int[0,MAX]"],
  ...each(
    ["summarizeTraffic", "trafficByKernel"],
    [() => [lib.scanLaunchPlan(dims(), "naive", 1)], "plan"],
  ),
  gpuScanTraffic: [
    () => [size(), { variant: "chunked" }],
    "size options:{variant:naive|chunked chunkSize?:int[1,4096] backend?:any}",
  ],
  chunkSummaryReference: [
    () => [
      [[1, 2, 3]],
      [[0.1, 0.2, 0.3]],
      [[-1, -2]],
      [
        [1, 1, 1],
        [0, 1, 0],
      ],
      2,
    ],
    "u delta A B T:int[1,]",
  ],
  idealFusedTraffic: [
    () => [size(), { returnLastState: true }],
    "size options:{returnLastState?:bool}",
  ],
  gpuSsdTraffic: [
    () => [{ batch: 1, length: 5, heads: 2, headDim: 3, groups: 2, dstate: 4 }, { chunkSize: 2 }],
    "size:{batch:int[1,MAX] length:int[1,MAX] heads:int[1,MAX] headDim:int[1,MAX] groups?:int[1,MAX] dstate:int[1,MAX]} " +
      "options:{chunkSize:int[1,256]}",
  ],
  // tasks/, lti/
  ...each(
    ["selectiveCopying", "copying"],
    [
      () => [rng(), COPYING],
      "rng:rng " +
        "options:{count:int[0,MAX] length:int[1,MAX] numTokens:int[1,MAX] vocabSize:int[3,2^31-1]}",
    ],
  ),
  inductionHeads: [
    () => [rng(), { count: 2, length: 6, vocabSize: 5 }],
    "rng:rng options:{count:int[0,MAX] length:int[3,MAX] vocabSize:int[3,2^31-1]}",
  ],
  ...each(
    ["generateSelectiveCopyingSplit", "generateInductionHeadsSplit"],
    [() => ["test"], "split:train|test"],
  ),
  ...each(["copyingTokens", "inductionTokens"], [() => [5], "vocabSize:int[3,]"]),
  tokenAccuracy: [predictions, "predictions set"],
  accuracyByTarget: [predictions, "predictions set:@TASK_SET"],
  chanceAccuracy: [() => [inductionSet()], "set"],
  wilsonInterval: [() => [3, 4], "correct:int[0,4] count:int[1,2^52]"],
  taskExample: [() => [inductionSet(), 1], "set i:int[0,1]"],
  renderExample: [() => [inductionSet(), 1], "set:@TASK_SET i:int[0,1]"],
  taskFileText: [() => [taskFile()], "splits:@SPLITS"],
  taskSetFromFile: [
    () => [JSON.parse(lib.taskFileText(taskFile())), "test"],
    "file:@TASK_FILE split:@TEST_SPLIT",
  ],
  fitLtiKernel: [
    () => [inductionSet(4), { kernelLength: 2 }],
    "set options:{kernelLength?:int[1,6] ridge?:pos}",
  ],
  ltiLogits: [() => [ltiModel(), [1, 2, 3]], "model:@LTI_MODEL tokens:@LTI_TOKENS"],
  ltiPredict: [() => [ltiModel(), inductionSet(4)], "model:@LTI_MODEL set:@TASK_SET"],
  // extrapolation/
  attentionEvalBytes: [
    () => [lib.llamaConfig(LLAMA), 100, 2],
    "config length:int[1,2^30] batch?:int[1,2^16]",
  ],
  mambaLastLogits: [
    () => [mamba(), [[1, 2, 3]], { prefill: 2 }],
    "model:@MAMBA_MODEL tokens:@TOKENS options?:{prefill?:int[1,2^20] engine?:typescript|simd|simd-threads}",
  ],
  mamba2LastLogits: [
    () => [mamba2(), [[1, 2, 3]], { prefill: 2 }],
    "model:@MAMBA2_MODEL tokens:@TOKENS options?:{prefill?:int[1,2^20] engine?:typescript|simd|simd-threads}",
  ],
  transformerLastLogits: [
    () => [llama(), [[1, 2, 3]], { chunk: 2 }],
    "model:@LLAMA_MODEL tokens:@TOKENS options?:{chunk?:int[1,2^20] budgetBytes?:pos}",
  ],
  inductionCorrect: [
    () => [mamba(), lib.extrapolationSet(0, 8, 2, 6), { batchSize: 1 }],
    "model:@EITHER_MODEL set:@INDUCTION_SET " +
      "options?:{batchSize?:int[1,2^16] budgetBytes?:pos from?:int[0,0] to?:int[0,2] " +
      "prefill?:int[1,2^20]}",
  ],
  inductionExtrapolation: [
    () => [llama(), { lengths: [4, 8], examples: 2, budgetBytes: 1e6 }],
    "model:@EITHER_MODEL " +
      "options:{lengths:nums[1,64] examples:int[1,2^16] seed?:int " +
      "batchSize?:int[1,2^16] budgetBytes?:pos}",
  ],
  meanFillerDelta: [
    () => [{ shape: [2, 8, 3], data: new Float32Array(48) }, lib.extrapolationSet(0, 8, 2, 6)],
    "delta:T3 set:@INDUCTION_SET",
  ],
  extrapolationSet: [
    () => [0, 8, 2, 16],
    "seed:int[-2^52,2^52] length:int[3,2^24] count:int[0,2^16] vocabSize:int[3,2^16]",
  ],
  // charlm/
  charVocabulary: [() => ["abca"], "text:str"],
  encodeChars: [() => [lib.charVocabulary("abc"), "cab"], "vocab:@VOCAB text:text"],
  decodeChars: [() => [lib.charVocabulary("abc"), [2, 0, 1]], "vocab:@VOCAB ids:@IDS3"],
  splitTrainValidation: [() => [charIds(), 0.25], "ids:@INT32_IDS validationFraction?:num(0,0.9]"],
  randomWindows: [
    () => [charIds(), rng(), 2, 8],
    "ids:@INT32_IDS rng:rng batch:int[1,MAX] context:int[1,39]",
  ],
  validationWindows: [
    () => [charIds(), 8, 2],
    "ids:@INT32_IDS context:int[1,39] maxWindows?:int[1,]",
  ],
  ...each(
    ["bitsPerCharSum", "bitsPerChar"],
    [() => [charLogits(), [0, -100]], "logits:T3 targets:@TARGETS3"],
  ),
  kneserNey: [() => [charIds(), 3, 2], "train:@INT32_IDS vocabSize:int[1,2^16] order:int[1,8]"],
  kneserNeyBitsPerChar: [
    () => [lib.kneserNey(charIds(), 3, 2), charIds()],
    "model:obj ids:@INT32_IDS",
  ],
  evaluateBitsPerChar: [
    () => [charForward, lib.validationWindows(charIds(), 8), 2],
    "forward:fn set:@WINDOWS batch?:int[1,MAX]",
  ],
  // nn/ and train/ops-backward.ts: the models' ops and their backwards
  linear: [() => [randn(2, 3), randn(4, 3), randn(4)], "x:T weight:T2* bias?:T1*"],
  rmsNorm: [() => [randn(2, 3), randn(3), 1e-5], "x:T weight:T1* eps:num[0,]"],
  embedding: [
    () => [Int32Array.from([0, 2]), randn(3, 2), [1, 2]],
    "ids:@INT32 weight:T2* shape:shape2",
  ],
  causalDepthwiseConv1d: [
    () => [randn(1, 2, 5), randn(2, 1, 3), randn(2)],
    "x:T3 weight:T3* bias?:T1*",
  ],
  mapTensor: [() => [randn(2), (v: number) => 2 * v], "x:T* f:fn"],
  ...each(["siluTensor", "softplusTensor", "sigmoidTensor"], [() => [randn(2)], "x:T*"]),
  transpose12: [() => [randn(1, 2, 3)], "x:T3*"],
  sliceLastAxis: [() => [randn(2, 4), 1, 2], "x:T* from:int[0,4] count:int[0,3]"],
  linearBackward: [
    () => [randn(2, 3), randn(4, 3), randn(2, 4), true],
    "x:T weight:T2* g:T hasBias?:bool",
  ],
  rmsNormBackward: [
    () => [randn(2, 3), randn(3), 1e-5, randn(2, 3)],
    "x:T weight:T1* eps:num[0,] g:T",
  ],
  embeddingBackward: [
    () => [Int32Array.from([0, 2]), 3, randn(1, 2, 2)],
    "ids:@INT32 vocab:int[1,MAX] g:T",
  ],
  causalDepthwiseConv1dBackward: [
    () => [randn(1, 2, 5), randn(2, 1, 3), randn(1, 2, 5), true],
    "x:T3 weight:T3* g:T3 hasBias?:bool",
  ],
  ...each(["siluBackward", "softplusBackward"], [() => [randn(2), randn(2)], "x:T g:T"]),
  crossEntropy: [
    () => [randn(1, 2, 3), Int32Array.from([0, 2]), [1, 0.5]],
    "logits:T targets:@INT32 mask?:nums",
  ],
  // checkpoint/ (bytes here; files at the end)
  parseSafetensors: [() => [lib.serializeSafetensors({ w: randn(2) })], "bytes:@BYTES label?:text"],
  serializeSafetensors: [() => [{ w: randn(2) }, { format: "pt" }], "tensors:obj metadata?:obj"],
  // mamba/
  mambaConfig: [() => [MAMBA], "config:@MAMBA_CONFIG"],
  ...each(["mambaParamShapes", "mambaParamCount"], [() => [lib.mambaConfig(MAMBA)], "config"]),
  initMamba: [
    () => [MAMBA, rng(), { variant: "lti" }],
    "config rng:rng options:{variant?:mamba|s6|lti|mamba-lti}",
  ],
  mambaMixer: [
    () => [mamba(), 0, randn(1, 3, 4), { engine: "typescript" }],
    "model:@MAMBA_MODEL layer:int[0,0] u:@U4 options:{engine?:typescript|simd|simd-threads returnState?:bool}",
  ],
  mambaForward: [
    () => [mamba(), [[1, 2, 3]], { engine: "simd" }],
    "model:@MAMBA_MODEL tokens:@TOKENS options:{engine?:typescript|simd|simd-threads variant?:mamba|s6|lti|mamba-lti}",
  ],
  mambaSelection: [
    () => [mamba(), [[1, 2, 3]], { variant: "s6" }],
    "model:@MAMBA_MODEL tokens:@TOKENS options:{variant?:mamba|s6|lti|mamba-lti}",
  ],
  createMambaCache: [() => [mamba(), 2], "model:@MAMBA_MODEL batch:int[1,2^16]"],
  mambaCacheBytes: [() => [lib.createMambaCache(mamba(), 1)], "cache:@MAMBA_CACHE"],
  mambaStep: [
    () => {
      const m = mamba();
      return [m, lib.createMambaCache(m, 2), [1, 2], { engine: "simd" }];
    },
    "model:@MAMBA_MODEL cache:@MAMBA_CACHE tokens:@STEP options:{engine?:typescript|simd|simd-threads}",
  ],
  mambaPrefill: [
    () => {
      const m = mamba();
      return [m, lib.createMambaCache(m, 1), [[1, 2]], {}];
    },
    "model:@MAMBA_MODEL cache:@MAMBA_CACHE tokens:@TOKENS options:{engine?:typescript|simd|simd-threads}",
  ],
  ...each(
    ["mambaGenerate", "mambaGenerateWithStats"],
    [
      () => [mamba(), [1, 2], { maxNewTokens: 2, temperature: 0 }],
      `model:@MAMBA_MODEL prompt:@PROMPT options:{${GENERATE} engine?:typescript|simd|simd-threads}`,
    ],
  ),
  sampleNextToken: [
    () => [[0.1, 0.5, 0.2], 1, 2, rng()],
    "logits:nums[1,] temperature:num[0,] topK?:int[1,] rng:rng",
  ],
  // mamba2/
  ...each(["segsum", "segsumNaive"], [() => [randn(4)], "a:T1"]),
  ssdRecurrence: [
    () => [ssdInputs(), { initialState: randn(1, 2, 2, 2) }],
    "inputs:@SSD_INPUTS options:{initialState?:T4}",
  ],
  ssdQuadratic: [() => [ssdInputs()], "inputs:@SSD_INPUTS"],
  ssdChunked: [
    () => [ssdInputs(), { chunkSize: 2 }],
    "inputs:@SSD_INPUTS options:{chunkSize:int[1,4096] initialState?:T4 engine?:typescript|simd}",
  ],
  mamba2Config: [() => [MAMBA2], "config:@MAMBA2_CONFIG"],
  ...each(["mamba2ParamShapes", "mamba2ParamCount"], [() => [lib.mamba2Config(MAMBA2)], "config"]),
  initMamba2: [() => [MAMBA2, rng()], "config rng:rng"],
  mamba2Forward: [
    () => [mamba2(), [[1, 2, 3]], { engine: "simd" }],
    "model:@MAMBA2_MODEL tokens:@TOKENS options?:{engine?:typescript|simd}",
  ],
  mamba2Selection: [() => [mamba2(), [[1, 2, 3]]], "model:@MAMBA2_MODEL tokens:@TOKENS"],
  createMamba2Cache: [() => [mamba2(), 2], "model:@MAMBA2_MODEL batch:int[1,2^16]"],
  mamba2CacheBytes: [() => [lib.createMamba2Cache(mamba2(), 1)], "cache:@MAMBA2_CACHE"],
  mamba2Step: [
    () => {
      const m = mamba2();
      return [m, lib.createMamba2Cache(m, 2), [1, 2], { engine: "simd" }];
    },
    "model:@MAMBA2_MODEL cache:@MAMBA2_CACHE tokens:@STEP options:{engine?:typescript|simd|simd-threads}",
  ],
  mamba2Prefill: [
    () => {
      const m = mamba2();
      return [m, lib.createMamba2Cache(m, 1), [[1, 2]], {}];
    },
    "model:@MAMBA2_MODEL cache:@MAMBA2_CACHE tokens:@TOKENS options:{engine?:typescript|simd|simd-threads}",
  ],
  mamba2Generate: [
    () => [mamba2(), [1, 2], { maxNewTokens: 2, temperature: 0 }],
    `model:@MAMBA2_MODEL prompt:@PROMPT options:{${GENERATE} engine?:typescript|simd|simd-threads}`,
  ],
  mamba2LossAndGrads: [
    () => [mamba2(), [[1, 2, 3]], {}],
    "model:@MAMBA2_MODEL tokens:@TOKENS options:{targets?:any mask?:any engine?:typescript|simd|simd-threads}",
  ],
  // transformer/
  ropeInvFreq: [() => [4, 10000], "headDim:int[2,2^16] theta:pos"],
  applyRope: [() => [randn(1, 2, 3, 4), 10000, 0], "x:T4 theta:pos start?:int[0,2^31]"],
  applyRopeBackward: [() => [randn(1, 2, 3, 4), 10000, 0], "g:T4 theta:pos start?:int[0,2^31]"],
  causalAttention: [
    () => [randn(1, 2, 3, 4), randn(1, 1, 3, 4), randn(1, 1, 3, 4), {}],
    "q:T4 k:T4 v:T4 options:{offset?:int[-3,3]}",
  ],
  causalAttentionBackward: [
    () => [randn(1, 2, 3, 4), randn(1, 1, 3, 4), randn(1, 1, 3, 4), randn(1, 2, 3, 4)],
    "q:T4 k:T4 v:T4 g:T4",
  ],
  llamaConfig: [() => [LLAMA], "fields:@LLAMA_FIELDS"],
  ...each(
    ["transformerParamShapes", "transformerParamCount"],
    [() => [lib.llamaConfig(LLAMA)], "config"],
  ),
  initTransformer: [
    () => [LLAMA, rng(), { init: "fan-in" }],
    "config rng:rng options:{init?:hf|fan-in}",
  ],
  transformerForward: [() => [llama(), [[1, 2, 3]]], "model:@LLAMA_MODEL tokens:@TOKENS"],
  createTransformerCache: [() => [llama(), 2], "model:@LLAMA_MODEL batch?:int[1,2^16]"],
  transformerCacheBytes: [
    () => [lib.llamaConfig(LLAMA), 10, 1],
    "config position:int[0,] batch?:int[1,]",
  ],
  transformerStep: [
    () => {
      const m = llama();
      return [m, lib.createTransformerCache(m, 2), [1, 2]];
    },
    "model:@LLAMA_MODEL cache:@LLAMA_CACHE tokens:@STEP",
  ],
  transformerPrefill: [
    () => {
      const m = llama();
      return [m, lib.createTransformerCache(m, 1), [[1, 2]]];
    },
    "model:@LLAMA_MODEL cache:@LLAMA_CACHE tokens:@TOKENS",
  ],
  ...each(
    ["transformerGenerate", "transformerGenerateWithStats"],
    [
      () => [llama(), [1, 2], { maxNewTokens: 2, temperature: 0 }],
      `model:@LLAMA_MODEL prompt:@PROMPT options:{${GENERATE}}`,
    ],
  ),
  transformerLossAndGrads: [
    () => [llama(), [[1, 2, 3]], {}],
    "model:@LLAMA_MODEL tokens:@TOKENS options:{targets?:any mask?:any}",
  ],
  // train/ and selective/scan-backward.ts
  noWeightDecay: [() => ["backbone.norm_f.weight"], "name:str"],
  createAdamW: [() => [params()], "params:@PARAMS"],
  adamwStep: [
    () => {
      const p = params();
      return [p, params(), lib.createAdamW(p), { lr: 1e-3 }];
    },
    "params:@PARAMS grads:@PARAMS state:@ADAMW_STATE " +
      "options:{lr:num[0,] beta1?:num[0,0.999] beta2?:num[0,0.999] eps?:pos weightDecay?:num[0,]}",
  ],
  clipGradNorm: [() => [params(), 1], "grads:@PARAMS maxNorm:pos"],
  learningRate: [
    () => [3, { peakLr: 1e-3, warmupSteps: 2, totalSteps: 10 }],
    "step:int[0,] schedule:{peakLr:num[0,] warmupSteps:int[0,] totalSteps:int[1,] minLr?:num[0,]}",
  ],
  selectiveScanForwardTrain: [
    () => [scanArgs(), { strategy: "recompute", chunkSize: 2 }],
    "_ options:{strategy?:store-all|recompute chunkSize?:int[1,]}",
  ],
  selectiveScanBackward: [
    () => {
      const { out, cache } = lib.selectiveScanForwardTrain(scanArgs());
      return [cache, out];
    },
    "cache:@SCAN_CACHE dout:T3",
  ],
  scanTrainingMemory: [
    () => [{ ...size(), chunkSize: 4 }],
    "config:{batch:int[1,] dim:int[1,] length:int[1,] dstate:int[1,] " +
      "chunkSize?:int[1,] bytesPerElement?:int[1,]}",
  ],
  mambaLossAndGrads: [
    () => [mamba(), [[1, 2, 3]], {}],
    "model:@MAMBA_MODEL tokens:@TOKENS " +
      "options:{targets?:any mask?:any variant?:mamba|s6|lti|mamba-lti " +
      "scanStrategy?:store-all|recompute chunkSize?:int[1,]}",
  ],
  taskBatch: [() => [copySet()], "set:@TASK_SET"],
  taskAccuracy: [
    () => [mamba(), copySet(), { batchSize: 1 }],
    "model:@MAMBA_MODEL set:@TASK_SET options:{variant?:mamba|s6|lti|mamba-lti batchSize?:int[1,]}",
  ],
  // checkpoint and training-state files (in a temporary folder)
  readSafetensors: [
    () => {
      lib.writeSafetensors(tmp("w.safetensors"), { w: randn(2) });
      return [tmp("w.safetensors")];
    },
    "path:str options:{maxBytes?:int[8,2^31-1]}",
  ],
  writeSafetensors: [
    () => [tmp("v.safetensors"), { w: randn(2) }, { format: "pt" }],
    "path:str tensors:obj metadata?:obj",
  ],
  readConfigJson: [
    () => {
      lib.writeConfigJson(tmp("c.json"), { a: 1 });
      return [tmp("c.json")];
    },
    "path:str",
  ],
  writeConfigJson: [() => [tmp("d.json"), { a: 1 }, { b: 2 }], "path:str config:obj keep?:obj"],
  loadMambaCheckpoint: [() => [savedMamba(), {}], "dir:str options:{keep?:bf16|f16}"],
  saveMambaCheckpoint: [() => [mamba(), tmp("mamba-save")], "model:@MAMBA_MODEL dir:str"],
  loadMamba2Checkpoint: [
    () => {
      lib.saveMamba2Checkpoint(mamba2(), tmp("mamba2"));
      return [tmp("mamba2")];
    },
    "dir:str",
  ],
  saveMamba2Checkpoint: [() => [mamba2(), tmp("mamba2-save")], "model:@MAMBA2_MODEL dir:str"],
  loadTransformerCheckpoint: [
    () => {
      lib.saveTransformerCheckpoint(llama(), tmp("llama"));
      return [tmp("llama")];
    },
    "dir:str",
  ],
  saveTransformerCheckpoint: [() => [llama(), tmp("llama-save")], "model:@LLAMA_MODEL dir:str"],
  saveTrainingState: [
    () => {
      const model = mamba();
      return [{ step: 1, optimizer: lib.createAdamW(model.params), rng: rng() }, model, tmp("st")];
    },
    "state:@TRAINING_STATE model:@MAMBA_MODEL dir:str",
  ],
  loadTrainingState: [
    () => {
      const dir = savedMamba();
      return [dir, lib.loadMambaCheckpoint(dir)];
    },
    "dir:str model:@MAMBA_MODEL",
  ],
};

export const signatures: Record<string, Signature> = Object.fromEntries(
  Object.entries(table).map(([name, [valid, types, call]]) => {
    const args = fields(types).map(([arg, optional, type]) => {
      const schema = type === null ? null : parse(type);
      return { name: arg, schema: schema && optional ? s.optional(schema) : schema };
    });
    return [name, { valid, args, call }];
  }),
);
