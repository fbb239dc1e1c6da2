/**
 * Checked exercises, in the spirit of nbgrader.
 *
 * A learner's exercise cell defines a function; the cell after it calls `check("exercise-id", fn)`.
 * `check` runs the function on seeded random cases and edge cases next to lib's reference and
 * reports one of three outcomes:
 * - not implemented yet (the stub still throws {@link notImplemented}): printed as plain output,
 *   so "Run All" goes on through the rest of the lesson;
 * - passed: a one-line confirmation;
 * - failed: an Error naming the case, the input, expected vs got, and a hint. This stops the cell,
 *   as a wrong answer should.
 *
 * In a kernel, each outcome is also a display output: a MIME bundle with the structured outcome
 * under {@link CHECK_MIME} (what the notebook runner and the tests read) and a `text/plain`
 * fallback, the line a learner reads ("⏳ …", "✅ …", or for a failure the first line of the error
 * that follows, see {@link CheckFailedError}). Outside a kernel (a plain script) the line goes to
 * stdout, as before.
 */
import { displayBundle } from "../display/jupyter";
import { Rng } from "../rng";
import { describe } from "../validate";
import { findExercise } from "./registry";

/** Thrown by a learner's stub until the exercise is done. */
export class NotImplementedError extends Error {
  override name = "NotImplementedError";
}

/** The body of an unsolved exercise: `throw notImplemented("rk4-step")`. */
export function notImplemented(exercise: string): NotImplementedError {
  return new NotImplementedError(
    `exercise "${exercise}" is not implemented yet: replace the line that throws this error with your code`,
  );
}

/**
 * Any function an exercise can be about: the erased type under which a lesson's list holds
 * exercises of different signatures (`Exercise[]`).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ExerciseFunction = (...args: any[]) => unknown;

/** One input of an exercise check: the argument list of `F` plus a label for messages. */
export interface ExerciseCase<F extends ExerciseFunction = ExerciseFunction> {
  label: string;
  args: Parameters<F>;
}

/**
 * An exercise: what the learner implements, the reference it is compared with, and how.
 * `F` is the function type the learner writes (e.g. `Exercise<typeof rk4Step>` checks that the
 * cases' arguments fit the reference); `Exercise` alone holds any exercise.
 */
export interface Exercise<F extends ExerciseFunction = ExerciseFunction> {
  id: string;
  /** The lesson notebook that holds it, e.g. "00-welcome". */
  lesson: string;
  /** What to implement, in one line. */
  title: string;
  /** Shown with a failure. */
  hint: string;
  /** lib's implementation; receives copies of the same arguments. */
  reference: F;
  /** Seeded cases (random and edge cases). */
  cases: (rng: Rng) => ExerciseCase<F>[];
  /** Relative and absolute tolerance for numeric comparison (default 1e-9, 1e-12). */
  rtol?: number;
  atol?: number;
}

/** What a check found (a failure is thrown, not returned). */
export interface CheckResult {
  id: string;
  status: "passed" | "not-implemented";
  /** The line `check` prints. */
  message: string;
}

/** The MIME type of a check outcome in a cell's outputs (JSON: a {@link CheckOutcome}). */
export const CHECK_MIME = "application/vnd.mamba-ts.check+json";

/** The structured outcome of one `check(...)` call, as it travels under {@link CHECK_MIME}. */
export interface CheckOutcome {
  /** The exercise id. */
  id: string;
  status: "passed" | "not-implemented" | "failed";
  /** The line a learner reads: the `text/plain` of the bundle. */
  message: string;
}

/** A check outcome as a MIME bundle: {@link CHECK_MIME} plus its `text/plain` line. */
export function checkBundle(outcome: CheckOutcome): Record<string, unknown> {
  return { [CHECK_MIME]: outcome, "text/plain": outcome.message };
}

/**
 * The error `check` throws for a wrong answer (message: "✗ <id>: …" with input and hint). It
 * carries the failed outcome as `mimeBundle`: when the error ends the cell, the course's kernel
 * shows that bundle just before the error (a failure caught inside the cell, as lesson 00's
 * demonstration does, shows nothing and reports no outcome).
 */
export class CheckFailedError extends Error {
  readonly mimeBundle: Record<string, unknown>;

  constructor(
    readonly exerciseId: string,
    message: string,
  ) {
    super(message);
    this.mimeBundle = checkBundle({
      id: exerciseId,
      status: "failed",
      message: message.split("\n")[0],
    });
  }
}

/** The fixed seed of every check, so a failure can be replayed exactly. */
export const CHECK_SEED = 20231201;

/**
 * Checks a learner's function against the reference of exercise `id` and prints the outcome (see
 * the module comment). Throws when the function is wrong.
 */
export function check(id: string, candidate: unknown): void {
  const result = evaluateExercise(id, candidate);
  displayBundle(checkBundle({ id: result.id, status: result.status, message: result.message }));
}

/** The work behind {@link check}, returning the outcome instead of printing it. */
export function evaluateExercise(id: string, candidate: unknown): CheckResult {
  const exercise = findExercise(id);
  if (typeof candidate !== "function") {
    throw new Error(
      `check("${id}"): expected your function as the second argument, got ${describe(candidate)}`,
    );
  }
  const cases = exercise.cases(new Rng(CHECK_SEED));
  const rtol = exercise.rtol ?? 1e-9;
  const atol = exercise.atol ?? 1e-12;
  for (let i = 0; i < cases.length; i++) {
    const c = cases[i];
    const expected = exercise.reference(...cloneArgument(c.args));
    let got: unknown;
    try {
      got = (candidate as (...a: unknown[]) => unknown)(...cloneArgument(c.args));
    } catch (err) {
      if (isNotImplemented(err)) {
        return {
          id,
          status: "not-implemented",
          message: `⏳ ${id}: not implemented yet (${exercise.title}). Write it in the exercise cell above, run that cell, then run this check again.`,
        };
      }
      throw new CheckFailedError(
        id,
        `✗ ${id}: your function threw on case ${i + 1}/${cases.length} (${c.label}): ${(err as Error)?.message ?? String(err)}\n` +
          `  input: ${formatArgs(c.args)}\n  hint: ${exercise.hint}`,
      );
    }
    const mismatch = compareValues(expected, got, rtol, atol, "result");
    if (mismatch !== null) {
      throw new CheckFailedError(
        id,
        `✗ ${id}: wrong result on case ${i + 1}/${cases.length} (${c.label})\n` +
          `  input: ${formatArgs(c.args)}\n  ${mismatch}\n  hint: ${exercise.hint}`,
      );
    }
  }
  return {
    id,
    status: "passed",
    message: `✅ ${id}: passed all ${cases.length} cases (seeded random inputs and edge cases).`,
  };
}

/**
 * A deep copy of a check case's arguments, so that neither the reference nor the learner's
 * function can change what the other receives. Unlike `structuredClone` it keeps functions (shared:
 * an exercise may take a callback such as an ODE's right-hand side) and class instances such as an
 * `Rng` (copied with their prototype, so both sides get a generator in the same state).
 */
export function cloneArgument<T>(value: T): T {
  if (typeof value !== "object" || value === null) return value;
  if (ArrayBuffer.isView(value)) {
    return (
      value instanceof DataView
        ? new DataView(value.buffer.slice(0))
        : (value as unknown as Float64Array).slice()
    ) as T;
  }
  if (Array.isArray(value)) return value.map((v) => cloneArgument(v)) as T;
  if (value instanceof Map) {
    return new Map([...value].map(([k, v]) => [k, cloneArgument(v)])) as T;
  }
  if (value instanceof Set) return new Set([...value].map((v) => cloneArgument(v))) as T;
  const copy = Object.create(Object.getPrototypeOf(value) as object) as Record<string, unknown>;
  for (const [k, v] of Object.entries(value)) copy[k] = cloneArgument(v);
  return copy as T;
}

function isNotImplemented(err: unknown): boolean {
  // By name as well as by class: a notebook could hold a second copy of lib after a rebuild.
  return (
    err instanceof NotImplementedError || (err as Error | null)?.name === "NotImplementedError"
  );
}

/** A compact rendering of a value for messages (long arrays are elided). */
export function formatValue(value: unknown, depth = 0): string {
  if (typeof value === "number")
    return Number.isInteger(value) ? String(value) : value.toPrecision(6);
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "function") return "[function]";
  if (value === null || value === undefined || typeof value !== "object") return String(value);
  if (depth > 3) return "…";
  if (ArrayBuffer.isView(value)) {
    return `${value.constructor.name}${formatValue(Array.from(value as unknown as ArrayLike<number>), depth)}`;
  }
  if (Array.isArray(value)) {
    const shown = value.slice(0, 8).map((v) => formatValue(v, depth + 1));
    return `[${shown.join(", ")}${value.length > 8 ? `, … (${value.length} items)` : ""}]`;
  }
  const entries = Object.entries(value).map(([k, v]) => `${k}: ${formatValue(v, depth + 1)}`);
  return `{ ${entries.join(", ")} }`;
}

function formatArgs(args: unknown[]): string {
  return `(${args.map((a) => formatValue(a)).join(", ")})`;
}

/**
 * Compares `got` with `expected`: numbers within `atol + rtol·|expected|`, arrays and typed arrays
 * elementwise, objects key by key. Returns null when they match, else a message that says where
 * they differ.
 */
export function compareValues(
  expected: unknown,
  got: unknown,
  rtol: number,
  atol: number,
  where: string,
): string | null {
  if (typeof expected === "number") {
    if (typeof got !== "number")
      return `${where}: expected a number ${formatValue(expected)}, got ${formatValue(got)}`;
    if (Number.isNaN(expected) && Number.isNaN(got)) return null;
    // An infinity must be met exactly: no tolerance compares with it (∞ − ∞ is NaN, ∞ ≤ ∞).
    const ok = Number.isFinite(expected)
      ? Math.abs(got - expected) <= atol + rtol * Math.abs(expected)
      : got === expected;
    return ok ? null : `${where}: expected ${formatValue(expected)}, got ${formatValue(got)}`;
  }
  if (typeof expected !== "object" || expected === null) {
    return Object.is(expected, got)
      ? null
      : `${where}: expected ${formatValue(expected)}, got ${formatValue(got)}`;
  }
  const isList = (v: unknown): v is ArrayLike<unknown> =>
    Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView));
  if (isList(expected)) {
    if (!isList(got))
      return `${where}: expected an array of length ${expected.length}, got ${formatValue(got)}`;
    if (got.length !== expected.length) {
      return `${where}: expected length ${expected.length}, got length ${got.length}`;
    }
    for (let i = 0; i < expected.length; i++) {
      const m = compareValues(expected[i], got[i], rtol, atol, `${where}[${i}]`);
      if (m !== null) return m;
    }
    return null;
  }
  if (typeof got !== "object" || got === null) {
    return `${where}: expected an object ${formatValue(expected)}, got ${formatValue(got)}`;
  }
  for (const key of Object.keys(expected)) {
    if (!(key in got)) return `${where}: missing key "${key}"`;
    const m = compareValues(
      (expected as Record<string, unknown>)[key],
      (got as Record<string, unknown>)[key],
      rtol,
      atol,
      `${where}.${key}`,
    );
    if (m !== null) return m;
  }
  return null;
}
