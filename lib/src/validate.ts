/**
 * Input validation. Every public lib function checks its arguments so that a mistake in a
 * learner's cell fails at once with an error that names the function, the argument and what was
 * expected, instead of a NaN three lessons later, a hang, or a kernel killed by the allocator.
 *
 * Declarative: a {@link Schema} describes what one argument may be (`schema.integer({ min: 1 })`,
 * `schema.tensor({ rank: 3 })`, `schema.options({ dt: schema.positive() })`) and
 * {@link checkArg} applies it. The same schema yields the values it rejects ({@link Schema.invalid}),
 * which the property-based test drives through every exported function.
 *
 * Policies, decided once for the whole library:
 * - Message format: `fnName: argument 'x' must be <what was expected> (got <what was passed>)`,
 *   where `fnName` is the function the user called (a parser shared by several public functions
 *   takes it as a parameter; internals below the public function take typed values and check
 *   nothing) and `x` is the argument as the user wrote it (`options.dt` for a key of an options
 *   object).
 * - Optional values: `undefined` and `null` both mean "not given" (the default applies), for
 *   optional arguments and for option keys alike; a required value may be neither.
 * - Options objects: must be plain objects (an array, a number or a string is rejected); an
 *   unknown key is an error (a typo `d` for `D` must not silently drop a term).
 * - Numbers: finite unless a schema says otherwise; integers where a count, size or index is meant.
 * - Zero-size tensors: accepted, like NumPy. An axis of length 0 is valid wherever the result is
 *   well defined (an empty sequence gives an empty output); a function that needs at least one
 *   element (a state of size n >= 1, a non-empty kernel) states it in its own checks.
 * - Size caps: anything that allocates or loops in proportion to a user-given size has a stated
 *   cap, so a stray `1e9` fails with a message instead of exhausting memory or hanging:
 *   {@link MAX_ELEMENTS} elements for a tensor, {@link MAX_ARRAY_LENGTH} for a plain array, and
 *   smaller caps stated by the functions that need them.
 */
// Types only: tensor.ts checks its own arguments with this module, so no run-time import back.
import type { DType, Tensor } from "./tensor";

/** Product of a shape's entries (tensor.ts's numel, without its argument check). */
function numel(shape: readonly number[]): number {
  let n = 1;
  for (const s of shape) n *= s;
  return n;
}

/** Most elements a tensor made by lib may hold (2^27: 1 GiB of float64). */
export const MAX_ELEMENTS = 2 ** 27;

/** Most entries of a plain JavaScript array made by lib (2^24). */
export const MAX_ARRAY_LENGTH = 2 ** 24;

/** Describes a value for an error message without dumping a whole array. */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  if (typeof value === "number") return String(value);
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name}`;
  if (typeof value === "object") {
    const v = value as { shape?: unknown; data?: unknown };
    if (Array.isArray(v.shape) && ArrayBuffer.isView(v.data)) {
      return `a tensor of shape [${v.shape.join(", ")}] (${v.data.constructor.name})`;
    }
    return "an object";
  }
  return typeof value;
}

/**
 * What one argument may be. `problem` returns null for a valid value, else the rest of the
 * message after "must be" (e.g. `"an integer >= 1 (got 0)"`); `invalid` lists values the schema
 * rejects, for tests.
 */
export interface Schema<T = unknown> {
  /** What a valid value is, for messages and docs: "an integer in [1, 4096]". */
  readonly expected: string;
  /** Whether undefined/null ("not given") is accepted. */
  readonly optional: boolean;
  /** null when `value` conforms, else "what was expected (got what)". */
  problem(value: unknown): string | null;
  /** Values this schema rejects (each makes `problem` non-null). */
  invalid(): unknown[];
  /** Phantom: the type a valid value has. */
  readonly __type?: T;
}

/** The type a schema accepts. */
export type Infer<S> = S extends Schema<infer T> ? T : never;

/** `fn: argument 'x' must be ...`: the one message format (see the module doc). */
export function argumentError(fn: string, arg: string, problem: string): Error {
  return new Error(
    arg === "" ? `${fn}: ${problem}` : `${fn}: argument '${arg}' must be ${problem}`,
  );
}

/**
 * Checks `value` against `schema` and returns it typed; throws
 * `fn: argument 'arg' must be <expected> (got <value>)` otherwise.
 *
 * @param fn the function the user called
 * @param arg the argument's name as the user wrote it
 */
export function checkArg<T>(fn: string, arg: string, value: unknown, schema: Schema<T>): T {
  const problem = schema.problem(value);
  if (problem !== null) throw argumentError(fn, arg, problem);
  return value as T;
}

/** True for the "not given" values (see the module doc's policy). */
export function isAbsent(value: unknown): value is null | undefined {
  return value === undefined || value === null;
}

function make<T>(
  expected: string,
  problem: (value: unknown) => string | null,
  invalid: () => unknown[],
): Schema<T> {
  return {
    expected,
    optional: false,
    problem: (value) => {
      if (isAbsent(value)) return `${expected} (got ${describe(value)})`;
      return problem(value);
    },
    invalid: () => [undefined, null, ...invalid()],
  };
}

const got = (expected: string, value: unknown): string => `${expected} (got ${describe(value)})`;

function rangeText(min: number, max: number, what: string): string {
  if (min === -Infinity && max === Infinity) return what;
  if (max === Infinity) return `${what} >= ${min}`;
  if (min === -Infinity) return `${what} <= ${max}`;
  return `${what} in [${min}, ${max}]`;
}

/** Bounds of a number schema. `gt` is an exclusive lower bound. */
export interface NumberBounds {
  min?: number;
  max?: number;
  gt?: number;
  /** Accept NaN and ±Infinity (default false). */
  nonFinite?: boolean;
}

function numberSchema(integer: boolean, bounds: NumberBounds): Schema<number> {
  const min = bounds.min ?? -Infinity;
  const max = bounds.max ?? Infinity;
  const gt = bounds.gt;
  let what = integer ? "an integer" : bounds.nonFinite ? "a number" : "a finite number";
  if (gt === 0 && !integer)
    what = bounds.nonFinite ? "a positive number" : "a positive finite number";
  let expected = rangeText(min, max, what);
  if (gt !== undefined && gt !== 0) expected = `${expected} > ${gt}`;
  return make<number>(
    expected,
    (v) => {
      if (typeof v !== "number") return got(expected, v);
      if (integer ? !Number.isInteger(v) : !bounds.nonFinite && !Number.isFinite(v)) {
        return got(expected, v);
      }
      if (v < min || v > max || (gt !== undefined && !(v > gt))) return got(expected, v);
      return null;
    },
    () => {
      const bad: unknown[] = ["1", true, [1], {}];
      if (!bounds.nonFinite) bad.push(NaN, Infinity, -Infinity);
      if (integer) bad.push(0.5 + Math.max(0, Number.isFinite(min) ? min : 0));
      if (Number.isFinite(min)) bad.push(integer ? min - 1 : min - Math.max(1e-3, Math.abs(min)));
      if (gt !== undefined) bad.push(gt, gt - 1);
      if (Number.isFinite(max)) bad.push(integer ? max + 1 : max + Math.max(1e-3, Math.abs(max)));
      return bad;
    },
  );
}

/** What {@link schema.tensor} checks; `null` in `shape` means "any size on this axis". */
export interface TensorSpec {
  /** Expected rank (number of axes). */
  rank?: number;
  /** Expected shape; `null` entries match any size. Implies the rank. */
  shape?: readonly (number | null)[];
  /** Allowed dtype(s). */
  dtype?: DType | readonly DType[];
  /** Reject NaN and ±Infinity (default true). */
  finite?: boolean;
  /** Axis names used in messages, e.g. `["b", "d", "l"]`. */
  axes?: readonly string[];
}

function tensorProblem(value: unknown, spec: TensorSpec): string | null {
  const v = value as Partial<Tensor> | null | undefined;
  const layout = spec.axes ? ` (${spec.axes.join(", ")})` : "";
  if (
    v === null ||
    typeof v !== "object" ||
    !Array.isArray(v.shape) ||
    !(v.data instanceof Float32Array || v.data instanceof Float64Array)
  ) {
    return got(`a tensor { shape: number[], data: Float32Array | Float64Array }${layout}`, value);
  }
  const t = v as Tensor;
  const shapeText = `[${t.shape.join(", ")}]`;
  for (const s of t.shape) {
    if (!Number.isInteger(s) || s < 0) {
      return `a tensor whose shape holds non-negative integers (got shape ${shapeText})`;
    }
  }
  if (numel(t.shape) !== t.data.length) {
    return `a tensor whose data length matches its shape: shape ${shapeText} needs ${numel(t.shape)} elements (got ${t.data.length})`;
  }
  const rank = spec.shape ? spec.shape.length : spec.rank;
  if (rank !== undefined && t.shape.length !== rank) {
    return `a tensor with ${rank} axes${layout} (got shape ${shapeText})`;
  }
  if (spec.shape) {
    for (let i = 0; i < spec.shape.length; i++) {
      const want = spec.shape[i];
      if (want !== null && t.shape[i] !== want) {
        const axis = spec.axes ? ` (${spec.axes[i]})` : "";
        const wanted = spec.shape.map((s) => (s === null ? "*" : s)).join(", ");
        return `a tensor of shape [${wanted}]${layout}: axis ${i}${axis} should be ${want} (got shape ${shapeText})`;
      }
    }
  }
  if (spec.dtype) {
    const allowed = typeof spec.dtype === "string" ? [spec.dtype] : spec.dtype;
    const dt = t.data instanceof Float32Array ? "float32" : "float64";
    if (!allowed.includes(dt)) return `a tensor of dtype ${allowed.join(" or ")} (got ${dt})`;
  }
  if (spec.finite !== false) {
    const i = firstNonFinite(t.data);
    if (i >= 0) return nonFiniteValueProblem(t.data[i], i);
  }
  return null;
}

/**
 * What a tensor is refused with for `value` at flat index `i`: a NaN or ±∞, or (a check of its
 * float32 copy on a GPU) a float64 value beyond float32's range.
 */
export function nonFiniteValueProblem(value: number, i: number): string {
  return Number.isFinite(value)
    ? `a tensor of values finite in float32 (got ${value} at flat index ${i}, beyond float32's range)`
    : `a tensor of finite values (got ${value} at flat index ${i})`;
}

/** The index of the first NaN or ±∞ in `data`, or −1 when every value is finite. */
export function firstNonFinite(data: ArrayLike<number>): number {
  if (data instanceof Float32Array) {
    // ±∞ and NaN are the float32 values whose exponent bits are all ones: one integer test each
    // (1.4× faster than Number.isFinite on a gigabyte of scan inputs)
    const bits = new Int32Array(data.buffer, data.byteOffset, data.length);
    for (let i = 0; i < bits.length; i++) if ((bits[i] & 0x7f800000) === 0x7f800000) return i;
    return -1;
  }
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) return i;
  return -1;
}

/**
 * Refuses a model whose parameters hold a NaN or ±∞, naming the tensor and the first bad index:
 * `fn: argument 'model.params' must hold finite values (got NaN in "name" at flat index i)`.
 * One pass over every weight: training and saving run it once per call (decoding steps do not).
 */
export function checkFiniteParams(fn: string, params: Map<string, Tensor>): void {
  for (const [name, t] of params) checkFiniteParam(fn, name, t);
}

/** {@link checkFiniteParams} for one tensor, remembered as finite when it is. */
function checkFiniteParam(fn: string, name: string, t: Tensor): void {
  const i = firstNonFinite(t.data);
  if (i >= 0) {
    throw new Error(
      `${fn}: argument 'model.params' must hold finite values (got ${t.data[i]} in "${name}" at flat index ${i})`,
    );
  }
  finiteArrays.add(t.data);
}

/** Parameter arrays found finite (see {@link withFiniteParams}). */
const finiteArrays = new WeakSet<object>();

/**
 * Runs an inference call on `params`, refusing non-finite weights by name without reading every
 * weight on every call: before `run`, reads only the arrays not found finite before (reading
 * every weight of a 130M-parameter model takes about 0.13 s, a fifth of a prompt's forward);
 * after it, when the result holds a NaN or ±∞, reads every array again, so that a weight changed
 * in place since it was read (by training, or by hand) is still refused by name.
 */
export function withFiniteParams<T extends { data: ArrayLike<number> }>(
  fn: string,
  params: Map<string, Tensor>,
  run: () => T,
): T {
  for (const [name, t] of params) if (!finiteArrays.has(t.data)) checkFiniteParam(fn, name, t);
  const result = run();
  if (firstNonFinite(result.data) >= 0) checkFiniteParams(fn, params);
  return result;
}

function fixedRank0(spec: TensorSpec): boolean {
  return spec.shape !== undefined || spec.rank !== undefined;
}

function invalidTensors(spec: TensorSpec): unknown[] {
  const rank = spec.shape ? spec.shape.length : (spec.rank ?? 1);
  const shape = Array.from({ length: rank }, (_, i) => spec.shape?.[i] ?? 2);
  const n = numel(shape);
  const bad: unknown[] = [
    [1, 2],
    42,
    "tensor",
    { shape: [2], data: [1, 2] },
    { shape: shape, data: new Int32Array(n) },
    { shape: shape, data: new Float64Array(n + 1) },
    ...(fixedRank0(spec) ? [{ shape: [...shape, 1], data: new Float64Array(n) }] : []),
  ];
  if (spec.finite !== false && n > 0) {
    const nan = new Float64Array(n);
    nan[n - 1] = NaN;
    bad.push({ shape: shape, data: nan });
  }
  const fixedRank = spec.shape !== undefined || spec.rank !== undefined;
  if (fixedRank && rank > 0) {
    bad.push({ shape: shape.slice(1), data: new Float64Array(numel(shape.slice(1))) });
  }
  // Only the samples this spec really rejects (without a rank, another rank is fine).
  return bad.filter((v) => tensorProblem(v, spec) !== null);
}

/** Declarative argument schemas (see the module doc). */
export const schema = {
  /** An integer in [min, max]. */
  integer(bounds: { min?: number; max?: number } = {}): Schema<number> {
    return numberSchema(true, bounds);
  },
  /** A finite number (optionally bounded). */
  number(bounds: NumberBounds = {}): Schema<number> {
    return numberSchema(false, bounds);
  },
  /** A finite number > 0 (optionally capped). */
  positive(bounds: { max?: number } = {}): Schema<number> {
    return numberSchema(false, { gt: 0, max: bounds.max });
  },
  /** true or false. */
  boolean(): Schema<boolean> {
    return make<boolean>(
      "true or false",
      (v) => (typeof v === "boolean" ? null : got("true or false", v)),
      () => [0, 1, "true", {}],
    );
  },
  /** A string (non-empty unless `allowEmpty`). */
  string(options: { allowEmpty?: boolean } = {}): Schema<string> {
    const expected = options.allowEmpty ? "a string" : "a non-empty string";
    return make<string>(
      expected,
      (v) =>
        typeof v === "string" && (options.allowEmpty || v.length > 0) ? null : got(expected, v),
      () => [42, ["a"], ...(options.allowEmpty ? [] : [""])],
    );
  },
  /** One of a fixed set of strings. */
  oneOf<T extends string>(values: readonly T[]): Schema<T> {
    const expected = `one of ${values.map((o) => JSON.stringify(o)).join(", ")}`;
    return make<T>(
      expected,
      (v) =>
        typeof v === "string" && (values as readonly string[]).includes(v)
          ? null
          : got(expected, v),
      () => ["bogus", 42, values.length > 0 ? values[0].toUpperCase() + "!" : "x"],
    );
  },
  /** A function. */
  function<F extends (...args: never[]) => unknown>(): Schema<F> {
    return make<F>(
      "a function",
      (v) => (typeof v === "function" ? null : got("a function", v)),
      () => [42, "f", {}],
    );
  },
  /** A tensor matching `spec` (rank, shape, dtype, finite values). */
  tensor(spec: TensorSpec = {}): Schema<Tensor> {
    const layout = spec.axes ? ` (${spec.axes.join(", ")})` : "";
    return make<Tensor>(
      `a tensor${layout}`,
      (v) => tensorProblem(v, spec),
      () => invalidTensors(spec),
    );
  },
  /**
   * A tensor shape: an array of non-negative integers whose product is at most `maxElements`
   * (default {@link MAX_ELEMENTS}).
   */
  shape(options: { maxElements?: number; rank?: number } = {}): Schema<number[]> {
    const cap = options.maxElements ?? MAX_ELEMENTS;
    const rank = options.rank === undefined ? "" : ` of ${options.rank} entries`;
    const expected = `a shape: an array${rank} of non-negative integers with at most ${cap} elements in all`;
    return make<number[]>(
      expected,
      (v) => {
        if (!Array.isArray(v)) return got(expected, v);
        if (options.rank !== undefined && v.length !== options.rank) {
          return `${expected} (got [${v.map((s) => describe(s)).join(", ")}])`;
        }
        for (const s of v) {
          if (typeof s !== "number" || !Number.isInteger(s) || s < 0) {
            return `${expected} (got [${v.map((x) => describe(x)).join(", ")}])`;
          }
        }
        const n = numel(v);
        if (n > cap) return `${expected} (got [${v.join(", ")}]: ${n} elements)`;
        return null;
      },
      () => ["2,3", 6, [NaN, 3], [1.5, 3], [-1, 3], ["2", 3], [cap + 1], [1e9, 1e9]],
    );
  },
  /** A plain array (or Float32Array/Float64Array) of finite numbers, with at least `minLength`. */
  numbers(options: { minLength?: number; maxLength?: number } = {}): Schema<ArrayLike<number>> {
    const min = options.minLength ?? 0;
    const max = options.maxLength ?? MAX_ARRAY_LENGTH;
    const expected = `an array of finite numbers${min > 0 ? ` with at least ${min} entries` : ""}`;
    return make<ArrayLike<number>>(
      expected,
      (v) => {
        if (!(Array.isArray(v) || v instanceof Float64Array || v instanceof Float32Array)) {
          return got(expected, v);
        }
        if (v.length < min || v.length > max) return got(expected, v);
        for (let i = 0; i < v.length; i++) {
          const x: unknown = v[i];
          if (typeof x !== "number" || !Number.isFinite(x)) {
            return `${expected} (got ${describe(x)} at index ${i})`;
          }
        }
        return null;
      },
      () => ["1,2", 42, [NaN], [1, "2"], [Infinity], ...(min > 0 ? [[]] : [])],
    );
  },
  /**
   * A random number generator: an object with `random()`, `normal()`, `int(n)` and `fork()` as
   * lib's `Rng` has (duck-typed so that an Rng from another copy of lib is accepted).
   */
  rng<R = unknown>(): Schema<R> {
    const expected = "an Rng (e.g. new Rng(0))";
    return make<R>(
      expected,
      (v) => {
        const r = v as Record<string, unknown>;
        return typeof v === "object" &&
          typeof r.random === "function" &&
          typeof r.normal === "function"
          ? null
          : got(expected, v);
      },
      () => [42, {}, "rng", Math.random],
    );
  },
  /** Anything that is not undefined or null (checked further by the function itself). */
  present<T = unknown>(): Schema<T> {
    return make<T>(
      "given",
      () => null,
      () => [],
    );
  },
  /** A plain object (not an array); its contents are the function's to check. */
  object<T = Record<string, unknown>>(): Schema<T> {
    const expected = "an object";
    return make<T>(
      expected,
      (v) => (typeof v === "object" && !Array.isArray(v) ? null : got(expected, v)),
      () => [42, "o", [1]],
    );
  },
  /** `inner`, or not given (undefined/null, see the policy in the module doc). */
  optional<T>(inner: Schema<T>): Schema<T | undefined> {
    return {
      expected: inner.expected,
      optional: true,
      problem: (v) => (isAbsent(v) ? null : inner.problem(v)),
      invalid: () => inner.invalid().filter((v) => !isAbsent(v)),
    };
  },
  /**
   * A plain options object whose keys are those of `fields`, each checked by its schema; not
   * given (undefined/null) means `{}`. Unknown keys are rejected. Messages name a key as
   * `arg.key` (or `key` alone when the object is checked with `arg = ""`). `what` names the
   * object in messages ("an SSM", "an argument object").
   */
  options<F extends Record<string, Schema>>(
    fields: F,
    what = "an options object",
  ): OptionsSchema<F> {
    const keys = Object.keys(fields);
    const expected = `${what} { ${keys.map((k) => `${k}${fields[k].optional ? "?" : ""}`).join(", ")} }`;
    const requiredMissing = keys.some((k) => !fields[k].optional);
    const s: OptionsSchema<F> = {
      expected,
      optional: !requiredMissing,
      fields,
      problem: (v) => {
        const p = optionsProblem("", v, s);
        return p === null ? null : p.problem;
      },
      invalid: () => {
        const bad: unknown[] = [42, "opts", [1], true, { __unknownKey__: 1 }];
        if (requiredMissing) bad.push(undefined, null);
        return bad;
      },
    };
    return s;
  },
};

/** The schema of an options object (see {@link schema.options}). */
export interface OptionsSchema<F extends Record<string, Schema>> extends Schema<{
  [K in keyof F]?: Infer<F[K]>;
}> {
  readonly fields: F;
}

function optionsProblem(
  arg: string,
  value: unknown,
  s: OptionsSchema<Record<string, Schema>>,
): { arg: string; problem: string } | null {
  if (isAbsent(value)) {
    if (s.optional) return null;
    return { arg, problem: got(s.expected, value) };
  }
  if (typeof value !== "object" || Array.isArray(value) || ArrayBuffer.isView(value)) {
    return { arg, problem: got(s.expected, value) };
  }
  const o = value as Record<string, unknown>;
  const known = Object.keys(s.fields);
  for (const key of Object.keys(o)) {
    if (!Object.prototype.hasOwnProperty.call(s.fields, key)) {
      return {
        arg,
        problem: `${s.expected} (got an unknown key ${JSON.stringify(key)}; the keys are ${known.join(", ")})`,
      };
    }
  }
  for (const key of known) {
    const p = s.fields[key].problem(o[key]);
    if (p !== null) return { arg: arg === "" ? key : `${arg}.${key}`, problem: p };
  }
  return null;
}

/**
 * Checks an options object (or an argument object such as selectiveScan's `{ u, delta, ... }`)
 * against `s` and returns it typed, with not-given (undefined/null) as `{}`. A bad key is named
 * `arg.key` (`key` alone when `arg` is "").
 */
export function checkOptions<F extends Record<string, Schema>>(
  fn: string,
  arg: string,
  value: unknown,
  s: OptionsSchema<F>,
): { [K in keyof F]?: Infer<F[K]> } {
  const p = optionsProblem(arg, value, s as unknown as OptionsSchema<Record<string, Schema>>);
  if (p !== null) {
    if (p.arg === "") throw new Error(`${fn}: expected ${p.problem}`);
    throw argumentError(fn, p.arg, p.problem);
  }
  return (isAbsent(value) ? {} : value) as { [K in keyof F]?: Infer<F[K]> };
}
