/**
 * Argument parsers shared by the public SSM functions (continuous, discrete, recurrent and
 * convolutional views). `fn` is the function the user called and the argument names are as the
 * user wrote them; both only build error messages. Each parser checks once and returns typed
 * values; not exported from lib's index.
 */
import { type DType, type FloatArray, type Tensor, dtypeOf } from "../tensor";
import { argumentError, checkArg, checkOptions, describe, isAbsent, schema } from "../validate";
import { checkSquare } from "../linalg/checks";

const STEP = schema.positive();
const ANY_TENSOR = schema.tensor();

/** Checks a step size (or time constant): a positive finite number. */
export function checkStep(fn: string, arg: string, dt: unknown): number {
  return checkArg(fn, arg, dt, STEP);
}

/** A continuous SSM as the user passes it (see continuous.ts). */
export interface ContinuousSSM {
  A: Tensor;
  B: Tensor;
  C: Tensor;
  D?: Tensor;
}

/** The sizes of an SSM: n states, m inputs, p outputs. */
export interface SSMDims {
  n: number;
  m: number;
  p: number;
}

/** The keys of a {@link ContinuousSSM} (a typo such as `d` for `D` is an error, not a dropped term). */
const SSM_FIELDS = schema.options(
  {
    A: schema.present(),
    B: schema.present(),
    C: schema.present(),
    D: schema.optional(schema.present()),
  },
  "an SSM",
);

/** Checks every matrix of an SSM argument `arg` and that their shapes agree; returns (n, m, p). */
export function checkSsm(fn: string, arg: string, ssm: unknown): SSMDims {
  const s = checkOptions(fn, arg, ssm, SSM_FIELDS) as ContinuousSSM;
  const n = checkSquare(fn, `${arg}.A`, s.A);
  const B = checkArg(fn, `${arg}.B`, s.B, schema.tensor({ rank: 2, axes: ["n", "m"] }));
  if (B.shape[0] !== n) {
    throw argumentError(
      fn,
      `${arg}.B`,
      `a matrix of ${n} rows to match A (${n}, ${n}) (got shape [${B.shape.join(", ")}])`,
    );
  }
  const m = B.shape[1];
  const C = checkArg(fn, `${arg}.C`, s.C, schema.tensor({ rank: 2, axes: ["p", "n"] }));
  if (C.shape[1] !== n) {
    throw argumentError(
      fn,
      `${arg}.C`,
      `a matrix of ${n} columns to match A (${n}, ${n}) (got shape [${C.shape.join(", ")}])`,
    );
  }
  const p = C.shape[0];
  if (!isAbsent(s.D)) {
    checkArg(fn, `${arg}.D`, s.D, schema.tensor({ shape: [p, m], axes: ["p", "m"] }));
  }
  return { n, m, p };
}

/**
 * A discrete LTI system (see recurrence.ts), checked: the tensors' own data (not copies),
 * row-major, so channel c's Ā starts at A[c·N·N] and its B̄ and C at B[c·N], C[c·N].
 */
export interface LtiSystem {
  /** Channels: 1 for a SISO system given with rank-2 Ā. */
  d: number;
  /** State size. */
  n: number;
  /** True when Ā was given as (d, N, N), i.e. a bank of channels. */
  banked: boolean;
  A: FloatArray;
  B: FloatArray;
  C: FloatArray;
  /** Ā's dtype: the dtype results are returned in. */
  dtype: DType;
}

/**
 * Checks the arguments `Abar`, `Bbar`, `C` against the layouts in recurrence.ts's module comment
 * and returns them flattened.
 */
export function checkLtiSystem(fn: string, Abar: unknown, Bbar: unknown, C: unknown): LtiSystem {
  const a = checkArg(fn, "Abar", Abar, ANY_TENSOR);
  let d: number;
  let n: number;
  let banked: boolean;
  if (a.shape.length === 2) {
    [d, n, banked] = [1, a.shape[0], false];
    checkArg(fn, "Abar", a, schema.tensor({ shape: [n, n], axes: ["N", "N"] }));
  } else if (a.shape.length === 3) {
    [d, n, banked] = [a.shape[0], a.shape[1], true];
    checkArg(fn, "Abar", a, schema.tensor({ shape: [d, n, n], axes: ["d", "N", "N"] }));
  } else {
    throw argumentError(
      fn,
      "Abar",
      `a tensor of shape (N, N) for one system or (d, N, N) for d channels (got ${describe(Abar)})`,
    );
  }
  if (n < 1) {
    throw argumentError(
      fn,
      "Abar",
      `a tensor with state size N >= 1 (got shape [${a.shape.join(", ")}])`,
    );
  }
  const lead = banked ? [d] : [];
  const vector = (name: string, value: unknown, column: boolean): FloatArray => {
    const t = checkArg(fn, name, value, ANY_TENSOR);
    const s = t.shape;
    const matrix = column ? [...lead, n, 1] : [...lead, 1, n];
    const flat = [...lead, n];
    const same = (want: number[]): boolean =>
      s.length === want.length && s.every((v, i) => v === want[i]);
    if (!same(matrix) && !same(flat)) {
      const fmt = (w: number[]): string => `(${w.join(", ")})`;
      throw argumentError(
        fn,
        name,
        `a tensor of shape ${fmt(matrix)} or ${fmt(flat)} to match Abar [${a.shape.join(", ")}] (got [${s.join(", ")}])`,
      );
    }
    return t.data;
  };
  return {
    d,
    n,
    banked,
    A: a.data,
    B: vector("Bbar", Bbar, true),
    C: vector("C", C, false),
    dtype: dtypeOf(a),
  };
}

/**
 * How the rows of a checked sequence tensor x (…, l) (argument `xName`) map to channels: every row
 * uses channel 0 of an unbanked system (or kernel); with a bank of d channels, x must be
 * (…, d, l) and row r uses channel r mod d. Returns the row count and length.
 */
export function sequenceRows(
  fn: string,
  xName: string,
  x: Tensor,
  d: number,
  banked: boolean,
  what: string,
): { rows: number; l: number } {
  const r = x.shape.length;
  if (r < 1) {
    throw argumentError(fn, xName, "a tensor with at least one axis (…, l) (got shape [])");
  }
  if (banked && (r < 2 || x.shape[r - 2] !== d)) {
    throw argumentError(
      fn,
      xName,
      `a tensor of shape (…, d, l) with d = ${d} to match the ${d} channels of ${what} (got [${x.shape.join(", ")}])`,
    );
  }
  const l = x.shape[r - 1];
  return { rows: l === 0 ? 0 : x.data.length / l, l };
}
