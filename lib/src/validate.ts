/**
 * Input validation. Every public lib function checks its arguments with these helpers so that a
 * mistake in a learner's cell fails at once with an error that names the argument and says what
 * was expected, instead of a NaN three lessons later.
 */
import { type DType, type Tensor, numel } from "./tensor";

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

/** What a tensor argument must look like; `null` in `shape` means "any size on this axis". */
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

/**
 * Checks that `value` is a tensor matching `spec` and returns it typed. `name` is the argument's
 * name as the caller wrote it (e.g. `"selectiveScan: u"`).
 */
export function assertTensor(name: string, value: unknown, spec: TensorSpec = {}): Tensor {
  const v = value as Partial<Tensor> | null | undefined;
  const layout = spec.axes ? ` (${spec.axes.join(", ")})` : "";
  if (
    v === null ||
    typeof v !== "object" ||
    !Array.isArray(v.shape) ||
    !(v.data instanceof Float32Array || v.data instanceof Float64Array)
  ) {
    throw new Error(
      `${name}: expected a tensor { shape: number[], data: Float32Array | Float64Array }${layout}, got ${describe(value)}`,
    );
  }
  const t = v as Tensor;
  for (const s of t.shape) {
    if (!Number.isInteger(s) || s < 0) {
      throw new Error(
        `${name}: shape must hold non-negative integers, got [${t.shape.join(", ")}]`,
      );
    }
  }
  if (numel(t.shape) !== t.data.length) {
    throw new Error(
      `${name}: data has ${t.data.length} elements but shape [${t.shape.join(", ")}] needs ${numel(t.shape)}`,
    );
  }
  const rank = spec.shape ? spec.shape.length : spec.rank;
  if (rank !== undefined && t.shape.length !== rank) {
    throw new Error(`${name}: expected ${rank} axes${layout}, got shape [${t.shape.join(", ")}]`);
  }
  if (spec.shape) {
    spec.shape.forEach((want, i) => {
      if (want !== null && t.shape[i] !== want) {
        const axis = spec.axes ? ` (${spec.axes[i]})` : "";
        throw new Error(
          `${name}: expected shape [${spec.shape!.map((s) => (s === null ? "*" : s)).join(", ")}]${layout}, got [${t.shape.join(", ")}]: axis ${i}${axis} should be ${want}`,
        );
      }
    });
  }
  if (spec.dtype) {
    const allowed = typeof spec.dtype === "string" ? [spec.dtype] : spec.dtype;
    const got = t.data instanceof Float32Array ? "float32" : "float64";
    if (!allowed.includes(got)) {
      throw new Error(`${name}: expected dtype ${allowed.join(" or ")}, got ${got}`);
    }
  }
  if (spec.finite !== false) assertFiniteArray(name, t.data);
  return t;
}

/** Rejects NaN and ±Infinity in an array, naming the first bad index. */
export function assertFiniteArray(name: string, data: ArrayLike<number>): void {
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      throw new Error(`${name}: expected finite values, found ${data[i]} at flat index ${i}`);
    }
  }
}

/** A finite number. */
export function assertFiniteNumber(name: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new Error(`${name}: expected a finite number, got ${describe(value)}`);
  }
  return value;
}

/** A finite number > 0. */
export function assertPositive(name: string, value: unknown): number {
  const v = assertFiniteNumber(name, value);
  if (!(v > 0)) throw new Error(`${name}: expected a positive number, got ${v}`);
  return v;
}

/** An integer in [min, max]. */
export function assertInteger(
  name: string,
  value: unknown,
  min = -Infinity,
  max = Infinity,
): number {
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw new Error(`${name}: expected an integer, got ${describe(value)}`);
  }
  if (value < min || value > max) {
    const range =
      max === Infinity ? `>= ${min}` : min === -Infinity ? `<= ${max}` : `in [${min}, ${max}]`;
    throw new Error(`${name}: expected an integer ${range}, got ${value}`);
  }
  return value;
}

/** One of a fixed set of string options. */
export function assertOneOf<T extends string>(
  name: string,
  value: unknown,
  options: readonly T[],
): T {
  if (typeof value !== "string" || !(options as readonly string[]).includes(value)) {
    throw new Error(
      `${name}: expected one of ${options.map((o) => JSON.stringify(o)).join(", ")}, got ${describe(value)}`,
    );
  }
  return value as T;
}

/** A plain function. */
export function assertFunction(name: string, value: unknown): (...args: never[]) => unknown {
  if (typeof value !== "function") {
    throw new Error(`${name}: expected a function, got ${describe(value)}`);
  }
  return value as (...args: never[]) => unknown;
}
