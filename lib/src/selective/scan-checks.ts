/**
 * The argument checks of the selective scans (selectiveScan, selectiveScanFast, gpuSelectiveScan,
 * selectiveScanMatrix): one schema for the argument object, then the shapes relative to u.
 * Shared by every implementation, so that all of them accept exactly the same inputs.
 */
import type { Tensor } from "../tensor";
import {
  type ScanMatrixLayout,
  type SelectiveScanShapes,
  channelsFirst,
  inputDependent,
  timeInvariant,
} from "../ops/reference/layout";
import { argumentError, checkArg, checkOptions, isAbsent, schema } from "../validate";

const DTYPES = ["float32", "float64"] as const;

/** The sizes of a scan, { batch, dim, length, dstate }, each an integer >= 1. */
export const SCAN_SIZE = schema.options(
  {
    batch: schema.integer({ min: 1 }),
    dim: schema.integer({ min: 1 }),
    length: schema.integer({ min: 1 }),
    dstate: schema.integer({ min: 1 }),
  },
  "a size",
);
const optionalTensor = schema.optional(schema.present<Tensor>());

/** The keys of a selective scan's argument object; shapes relative to u are checked below. */
function selectiveScanArgs(finiteU: boolean) {
  return schema.options(
    {
      u: schema.tensor({ rank: 3, axes: ["b", "d", "l"], dtype: DTYPES, finite: finiteU }),
      delta: schema.present<Tensor>(),
      A: schema.present<Tensor>(),
      B: schema.present<Tensor>(),
      C: schema.present<Tensor>(),
      D: optionalTensor,
      z: optionalTensor,
      deltaBias: optionalTensor,
      deltaSoftplus: schema.optional(schema.boolean()),
      returnLastState: schema.optional(schema.boolean()),
    },
    "an argument object",
  );
}
const SELECTIVE_SCAN_ARGS = selectiveScanArgs(true);
const SELECTIVE_SCAN_ARGS_UNCHECKED_U = selectiveScanArgs(false);

/** What {@link checkSelectiveScanArgs} leaves to its caller. */
export interface ScanCheckOptions {
  /**
   * Whether the values of u, delta and z, the (b, d, l) tensors, are checked here (default true).
   * false: the caller checks them where the data goes (the fused GPU scan, on the device after
   * the upload; on the host, reading a gigabyte of inputs took longer than uploading it).
   */
  bdlValues?: boolean;
}

/**
 * Checks the arguments of a selective scan (shapes relative to each other, dtypes, finite values,
 * option types, unknown keys) and returns their sizes and the layout of B and C. `fn` names the
 * calling function in error messages. Shared by every implementation of the scan, so that all of
 * them accept exactly the same inputs.
 */
export function checkSelectiveScanArgs(
  fn: string,
  args: unknown,
  options: ScanCheckOptions = {},
): SelectiveScanShapes {
  // The options schema has checked u (rank, dtype, finite values unless options.bdlValues is
  // false) and the flags; the other tensors are checked here against u's sizes.
  const finite = options.bdlValues !== false;
  const a = checkOptions(
    fn,
    "",
    args,
    finite ? SELECTIVE_SCAN_ARGS : SELECTIVE_SCAN_ARGS_UNCHECKED_U,
  );
  const dtypes = DTYPES;
  const [batch, dim, length] = a.u!.shape;
  const bdl = schema.tensor({
    shape: [batch, dim, length],
    axes: ["b", "d", "l"],
    dtype: dtypes,
    finite,
  });
  const perChannel = schema.tensor({ shape: [dim], axes: ["d"], dtype: dtypes });
  checkArg(fn, "delta", a.delta, bdl);
  const A = checkArg(fn, "A", a.A, schema.tensor({ rank: 2, axes: ["d", "n"], dtype: dtypes }));
  if (A.shape[0] !== dim) {
    throw argumentError(
      fn,
      "A",
      `a tensor of shape [${dim}, n] (d, n) with d = ${dim} from u (got [${A.shape.join(", ")}])`,
    );
  }
  const dstate = A.shape[1];
  const layoutB = scanMatrixLayout(fn, "B", a.B, batch, dim, dstate, length);
  const layoutC = scanMatrixLayout(fn, "C", a.C, batch, dim, dstate, length);
  if (!isAbsent(a.D)) checkArg(fn, "D", a.D, perChannel);
  if (!isAbsent(a.z)) checkArg(fn, "z", a.z, bdl);
  if (!isAbsent(a.deltaBias)) checkArg(fn, "deltaBias", a.deltaBias, perChannel);
  return { batch, dim, length, dstate, X: channelsFirst(dim, length), B: layoutB, C: layoutC };
}

/**
 * {@link checkSelectiveScanArgs} for the parallel implementations (fast CPU, gpu.js), which need
 * input-dependent B and C of shape (b, n, l) or (b, g, n, l) with the same number of groups: the
 * time-invariant (d, n) layout is an LTI system, better served by lesson 03's convolution.
 */
export function checkInputDependentScanArgs(
  fn: string,
  args: unknown,
  options: ScanCheckOptions = {},
): SelectiveScanShapes {
  const shapes = checkSelectiveScanArgs(fn, args, options);
  for (const which of ["B", "C"] as const) {
    if (shapes[which].kind === "time-invariant") {
      const shape = (args as Record<string, Tensor>)[which].shape;
      throw argumentError(
        fn,
        which,
        `an input-dependent tensor (b, n, l) or (b, g, n, l) (got [${shape.join(", ")}]: the time-invariant layout (d, n), which only selectiveScan takes)`,
      );
    }
  }
  if (shapes.B.groups !== shapes.C.groups) {
    throw argumentError(
      fn,
      "C",
      `a tensor with the same number of groups as B (${shapes.B.groups}) (got ${shapes.C.groups})`,
    );
  }
  return shapes;
}

function scanMatrixLayout(
  fn: string,
  name: string,
  value: unknown,
  batch: number,
  dim: number,
  dstate: number,
  length: number,
): ScanMatrixLayout {
  const t = checkArg(fn, name, value, schema.tensor({ dtype: DTYPES }));
  const got = `[${t.shape.join(", ")}]`;
  const expected =
    `(b, n, l) = [${batch}, ${dstate}, ${length}], (b, g, n, l) = [${batch}, g, ${dstate}, ${length}] ` +
    `with g dividing d = ${dim}, or time-invariant (d, n) = [${dim}, ${dstate}]`;
  const s = t.shape;
  if (s.length === 2 && s[0] === dim && s[1] === dstate) {
    return timeInvariant(dstate);
  }
  if (s.length === 3 && s[0] === batch && s[1] === dstate && s[2] === length) {
    return inputDependent(dstate, length);
  }
  if (s.length === 4 && s[0] === batch && s[2] === dstate && s[3] === length) {
    const g = s[1];
    if (g >= 1 && dim % g === 0) {
      const perGroup = dim / g;
      return {
        kind: "grouped",
        groups: g,
        nStride: length,
        lStride: 1,
        base: (b, d) => (b * g + Math.floor(d / perGroup)) * dstate * length,
      };
    }
  }
  throw argumentError(fn, name, `a tensor of shape ${expected} (got ${got})`);
}
