/**
 * S6: the selective SSM layer's parameterisation, as in Mamba.
 *
 * From an input x of shape (b, d, l), each position computes its own SSM parameters:
 *
 *   [δ; B; C] = W_x · x          (x_proj: d -> r + 2n, no bias; δ has rank r = dt_rank)
 *   Δ = softplus(W_Δ · δ + b_Δ)  (dt_proj: r -> d, with bias b_Δ)
 *   A = -exp(A_log)              (fixed per channel, negative so the state decays)
 *
 * and the layer is the selective scan of x with (Δ, A, B, C) plus the skip D. Initialisation
 * follows Mamba: A_log[d, n] = log(n + 1) (S4D-Real), b_Δ = softplus⁻¹(dt) with dt log-uniform in
 * [dt_min, dt_max] = [0.001, 0.1], D = 1.
 */
import { type Rng } from "../rng";
import { type Tensor, dtypeOf, allocate } from "../tensor";
import { MAX_ELEMENTS, argumentError, checkArg, checkOptions, isAbsent, schema } from "../validate";
import { inverseSoftplusRaw } from "../ops/reference/scalar";
import { channelsFirst, inputDependent } from "../ops/reference/layout";
import { type SelectiveScanResult, selectiveScanRaw } from "./scan";

/** The learned parameters of one S6 layer with d channels, state size n and Δ rank r. */
export interface S6Params {
  /** x_proj weight, (r + 2n, d): rows [0, r) give δ, rows [r, r + n) give B, rows [r + n, r + 2n) give C. */
  xProj: Tensor;
  /** dt_proj weight, (d, r). */
  dtProj: Tensor;
  /** dt_proj bias b_Δ, (d): the inverse softplus of each channel's initial step size. */
  dtBias: Tensor;
  /** (d, n); A = -exp(A_log). */
  ALog: Tensor;
  /** Skip connection, (d). */
  D: Tensor;
}

/** Options of {@link initS6} (Mamba's defaults). */
export interface S6InitOptions {
  /** Number of channels d. */
  dim: number;
  /** State size n (default 16). */
  dstate?: number;
  /**
   * Width d_model of the Mamba block around this layer. The layer itself runs on
   * d = d_inner = expand · d_model channels, but Mamba sizes the Δ projection from d_model:
   * dt_rank = ⌈d_model / 16⌉. Default d / 2 (Mamba's expand = 2). Give dModel or dtRank, not both.
   */
  dModel?: number;
  /** Rank r of the Δ projection (default ⌈dModel / 16⌉, Mamba's dt_rank "auto"). */
  dtRank?: number;
  /** Range of the initial step sizes (defaults 0.001 and 0.1). */
  dtMin?: number;
  dtMax?: number;
  /** Smallest initial step size after sampling (default 1e-4). */
  dtInitFloor?: number;
  /** dt_proj weights are uniform in ±dtScale / √r (default 1). */
  dtScale?: number;
  dtype?: "float32" | "float64";
}

/**
 * A step size log-uniform in [dtMin, dtMax] from a uniform number v in [0, 1):
 * dt = exp(log dtMin + v · (log dtMax - log dtMin)).
 */
export function logUniformDt(v: number, dtMin = 0.001, dtMax = 0.1): number {
  const fn = "logUniformDt";
  checkArg(fn, "v", v, schema.number({ min: 0, max: 1 }));
  checkDtRange(fn, "", dtMin, dtMax);
  return logUniformRaw(v, dtMin, dtMax);
}

/** exp(log dtMin + v (log dtMax − log dtMin)) for checked arguments. */
function logUniformRaw(v: number, dtMin: number, dtMax: number): number {
  return Math.exp(Math.log(dtMin) + v * (Math.log(dtMax) - Math.log(dtMin)));
}

/** Checks dtMin, dtMax (arguments `${prefix}dtMin`, `${prefix}dtMax`): positive, dtMin <= dtMax. */
function checkDtRange(fn: string, prefix: string, dtMin: unknown, dtMax: unknown): void {
  const lo = checkArg(fn, `${prefix}dtMin`, dtMin, POSITIVE);
  const hi = checkArg(fn, `${prefix}dtMax`, dtMax, POSITIVE);
  if (!(lo <= hi)) {
    throw argumentError(fn, `${prefix}dtMax`, `a number >= dtMin = ${lo} (got ${hi})`);
  }
}

/**
 * Mamba's initialisation of the Δ bias: per channel, draw dt log-uniform in [dtMin, dtMax], clamp
 * it below at `dtInitFloor`, and store b_Δ = softplus⁻¹(dt), so that at initialisation
 * Δ = softplus(0 + b_Δ) = dt exactly.
 *
 * @returns dt (d) and bias (d), float64
 */
export function initDtBias(
  rng: Rng,
  dim: number,
  options: { dtMin?: number; dtMax?: number; dtInitFloor?: number } = {},
): { dt: Tensor; bias: Tensor } {
  const fn = "initDtBias";
  checkArg(fn, "rng", rng, schema.rng());
  checkArg(fn, "dim", dim, schema.integer({ min: 0, max: MAX_ELEMENTS }));
  const o = checkOptions(fn, "options", options, DT_BIAS_OPTIONS);
  const { dtMin = 0.001, dtMax = 0.1, dtInitFloor = 1e-4 } = o;
  checkDtRange(fn, "options.", dtMin, dtMax);
  return dtBiasRaw(rng, dim, dtMin, dtMax, dtInitFloor);
}

/** initDtBias's draws for checked arguments (initS6 draws its Δ bias with it too). */
function dtBiasRaw(
  rng: Rng,
  dim: number,
  dtMin: number,
  dtMax: number,
  dtInitFloor: number,
): { dt: Tensor; bias: Tensor } {
  const dt = new Float64Array(dim);
  const bias = new Float64Array(dim);
  for (let d = 0; d < dim; d++) {
    dt[d] = Math.max(logUniformRaw(rng.random(), dtMin, dtMax), dtInitFloor);
    bias[d] = inverseSoftplusRaw(dt[d]);
  }
  return { dt: { shape: [dim], data: dt }, bias: { shape: [dim], data: bias } };
}

/** S4D-Real initialisation of A_log, (d, n): A_log[d, n] = log(n + 1), so A = -(1, 2, …, n). */
export function initALog(dim: number, dstate: number): Tensor {
  checkArg("initALog", "dim", dim, COUNT);
  checkArg("initALog", "dstate", dstate, COUNT);
  return initALogRaw(dim, dstate);
}

/** A_log = log(1..n) per channel, for checked sizes. */
function initALogRaw(dim: number, dstate: number): Tensor {
  const data = new Float64Array(dim * dstate);
  for (let d = 0; d < dim; d++)
    for (let n = 0; n < dstate; n++) data[d * dstate + n] = Math.log(n + 1);
  return { shape: [dim, dstate], data };
}

/** A = -exp(A_log), elementwise; same shape and dtype as A_log. */
export function aFromLog(ALog: Tensor): Tensor {
  return aFromLogRaw(checkArg("aFromLog", "ALog", ALog, A_LOG));
}

/** A = -exp(A_log) for a checked A_log. */
function aFromLogRaw(t: Tensor): Tensor {
  const data = allocate(dtypeOf(t), t.data.length);
  for (let i = 0; i < data.length; i++) data[i] = -Math.exp(t.data[i]);
  return { shape: [...t.shape], data };
}

/**
 * Fresh S6 parameters with Mamba's initialisation: x_proj uniform in ±1/√d (PyTorch's default for
 * a linear layer), dt_proj uniform in ±dtScale/√r, b_Δ from {@link initDtBias}, A_log from
 * {@link initALog}, D = 1. The rank r is Mamba's dt_rank = ⌈d_model / 16⌉ of the block's width
 * d_model, not of the layer's d = expand · d_model channels (pass `dModel`, or `dtRank` itself).
 *
 * Shapes: xProj (r + 2n, d), dtProj (d, r), dtBias (d), ALog (d, n), D (d).
 */
export function initS6(rng: Rng, options: S6InitOptions): S6Params {
  const fn = "initS6";
  checkArg(fn, "rng", rng, schema.rng());
  const o = checkOptions(fn, "options", options, S6_INIT_OPTIONS);
  const dim = o.dim!;
  const dstate = o.dstate ?? 16;
  if (!isAbsent(o.dModel) && !isAbsent(o.dtRank)) {
    throw argumentError(
      fn,
      "options",
      `options that give dModel or dtRank, not both (dtRank defaults to ⌈dModel / 16⌉) (got dModel = ${o.dModel}, dtRank = ${o.dtRank})`,
    );
  }
  const dModel = o.dModel ?? dim / 2;
  const dtRank = o.dtRank ?? Math.ceil(dModel / 16);
  const dtScale = o.dtScale ?? 1;
  const { dtMin = 0.001, dtMax = 0.1, dtInitFloor = 1e-4 } = o;
  checkDtRange(fn, "options.", dtMin, dtMax);
  if ((dtRank + 2 * dstate) * dim > MAX_ELEMENTS) {
    throw argumentError(
      fn,
      "options",
      `a request for at most ${MAX_ELEMENTS} x_proj weights (got (dtRank + 2·dstate)·dim = ${(dtRank + 2 * dstate) * dim})`,
    );
  }
  const dtype = o.dtype ?? "float64";
  const xBound = 1 / Math.sqrt(dim);
  const xProj = rng.rand([dtRank + 2 * dstate, dim], -xBound, xBound, dtype);
  const dtBound = dtScale / Math.sqrt(dtRank);
  const dtProj = rng.rand([dim, dtRank], -dtBound, dtBound, dtype);
  const { bias } = dtBiasRaw(rng, dim, dtMin, dtMax, dtInitFloor);
  const ones = allocate(dtype, dim).fill(1);
  const cast = (t: Tensor): Tensor => {
    const data = allocate(dtype, t.data.length);
    data.set(t.data);
    return { shape: [...t.shape], data };
  };
  return {
    xProj,
    dtProj,
    dtBias: cast(bias),
    ALog: cast(initALogRaw(dim, dstate)),
    D: { shape: [dim], data: ones },
  };
}

/** Checks the argument params: S6 parameters of consistent shapes; returns d, n and r. */
function checkS6Params(
  fn: string,
  params: unknown,
): { dim: number; dstate: number; dtRank: number } {
  const p = checkOptions(fn, "params", params, S6_PARAMS);
  const [dim, dstate] = p.ALog!.shape;
  const dtProj = p.dtProj!;
  if (dtProj.shape[0] !== dim) {
    throw argumentError(
      fn,
      "params.dtProj",
      `a tensor of shape [${dim}, r] (d, r) with d = ${dim} from ALog (got [${dtProj.shape.join(", ")}])`,
    );
  }
  const dtRank = dtProj.shape[1];
  const shape = (name: string, t: Tensor, want: number[], axes: string): void => {
    if (t.shape.length !== want.length || t.shape.some((v, i) => v !== want[i])) {
      throw argumentError(
        fn,
        `params.${name}`,
        `a tensor of shape [${want.join(", ")}] (${axes}) (got [${t.shape.join(", ")}])`,
      );
    }
  };
  shape("xProj", p.xProj!, [dtRank + 2 * dstate, dim], "r + 2n, d");
  shape("dtBias", p.dtBias!, [dim], "d");
  shape("D", p.D!, [dim], "d");
  return { dim, dstate, dtRank };
}

/**
 * The input-dependent SSM parameters of an S6 layer for input x (b, d, l):
 * δ = W_x[0:r] · x, delta = W_Δ · δ (before bias and softplus, as `selectiveScan` expects them),
 * B = W_x[r:r+n] · x and C = W_x[r+n:r+2n] · x.
 *
 * @returns delta (b, d, l), B (b, n, l), C (b, n, l), float64
 */
export function s6Project(x: Tensor, params: S6Params): { delta: Tensor; B: Tensor; C: Tensor } {
  const fn = "s6Project";
  const dims = checkS6Params(fn, params);
  return s6ProjectRaw(checkS6Input(fn, x, dims.dim), params, dims);
}

/** {@link s6Project} on a checked x and params, with their sizes. */
function s6ProjectRaw(
  xt: Tensor,
  params: S6Params,
  dims: { dim: number; dstate: number; dtRank: number },
): { delta: Tensor; B: Tensor; C: Tensor } {
  const { dim, dstate, dtRank } = dims;
  const [batch, , L] = xt.shape;
  const W = params.xProj.data;
  const rows = dtRank + 2 * dstate;
  const proj = new Float64Array(rows * L);
  const delta = new Float64Array(batch * dim * L);
  const B = new Float64Array(batch * dstate * L);
  const C = new Float64Array(batch * dstate * L);
  const dtW = params.dtProj.data;
  for (let b = 0; b < batch; b++) {
    proj.fill(0);
    // proj[k, l] = Σ_d W[k, d] x[b, d, l]
    for (let k = 0; k < rows; k++) {
      for (let d = 0; d < dim; d++) {
        const w = W[k * dim + d];
        const xRow = (b * dim + d) * L;
        for (let l = 0; l < L; l++) proj[k * L + l] += w * xt.data[xRow + l];
      }
    }
    for (let d = 0; d < dim; d++) {
      const out = (b * dim + d) * L;
      for (let r = 0; r < dtRank; r++) {
        const w = dtW[d * dtRank + r];
        for (let l = 0; l < L; l++) delta[out + l] += w * proj[r * L + l];
      }
    }
    B.set(proj.subarray(dtRank * L, (dtRank + dstate) * L), b * dstate * L);
    C.set(proj.subarray((dtRank + dstate) * L, rows * L), b * dstate * L);
  }
  return {
    delta: { shape: [batch, dim, L], data: delta },
    B: { shape: [batch, dstate, L], data: B },
    C: { shape: [batch, dstate, L], data: C },
  };
}

/**
 * An S6 layer: out = selectiveScan(u = x, delta, A = -exp(A_log), B, C, D, z, deltaBias = b_Δ,
 * deltaSoftplus = true) with delta, B, C from {@link s6Project}.
 *
 * @param x (b, d, l)
 * @param options.z optional gate (b, d, l); options.returnLastState to get the final state (b, d, n)
 * @returns out (b, d, l) with x's dtype, and lastState when asked
 */
export function s6(
  x: Tensor,
  params: S6Params,
  options: { z?: Tensor | null; returnLastState?: boolean } = {},
): SelectiveScanResult {
  // Everything the inner calls would reject is checked here, so errors name s6.
  const fn = "s6";
  const o = checkOptions(fn, "options", options, S6_OPTIONS);
  const dims = checkS6Params(fn, params);
  const xt = checkS6Input(fn, x, dims.dim);
  const [batch, dim, length] = xt.shape;
  if (!isAbsent(o.z)) {
    checkArg(fn, "options.z", o.z, schema.tensor({ shape: xt.shape, axes: ["b", "d", "l"] }));
  }
  const A = aFromLogRaw(params.ALog);
  const overflow = A.data.findIndex((v) => !Number.isFinite(v));
  if (overflow >= 0) {
    throw argumentError(
      fn,
      "params.ALog",
      `a tensor of finite values whose exp is finite too (got ${params.ALog.data[overflow]} at flat index ${overflow}, where -exp(A_log) = ${A.data[overflow]})`,
    );
  }
  const { delta, B, C } = s6ProjectRaw(xt, params, dims);
  const args = {
    u: xt,
    delta,
    A,
    B,
    C,
    D: params.D,
    z: o.z ?? null,
    deltaBias: params.dtBias,
    deltaSoftplus: true,
    returnLastState: o.returnLastState ?? false,
  };
  const layout = inputDependent(dims.dstate, length);
  return selectiveScanRaw(args, {
    batch,
    dim,
    length,
    dstate: dims.dstate,
    X: channelsFirst(dim, length),
    B: layout,
    C: layout,
  });
}

// Checks shared by the functions above (they read first; these guard them).

/** Checks the argument x (b, d, l) against the d of the parameters. */
function checkS6Input(fn: string, x: unknown, dim: number): Tensor {
  const xt = checkArg(fn, "x", x, schema.tensor({ rank: 3, axes: ["b", "d", "l"] }));
  if (xt.shape[1] !== dim) {
    throw argumentError(
      fn,
      "x",
      `a tensor of shape [b, ${dim}, l] (b, d, l) with d = ${dim} from params (got [${xt.shape.join(", ")}])`,
    );
  }
  return xt;
}

const POSITIVE = schema.positive();
const COUNT = schema.integer({ min: 0, max: MAX_ELEMENTS });
const SIZE = schema.integer({ min: 1, max: MAX_ELEMENTS });
const A_LOG = schema.tensor({ rank: 2, axes: ["d", "n"] });

const DT_RANGE_FIELDS = {
  dtMin: schema.optional(POSITIVE),
  dtMax: schema.optional(POSITIVE),
  dtInitFloor: schema.optional(POSITIVE),
};

const DT_BIAS_OPTIONS = schema.options(DT_RANGE_FIELDS);

const S6_INIT_OPTIONS = schema.options({
  dim: SIZE,
  dstate: schema.optional(SIZE),
  dtRank: schema.optional(schema.integer({ min: 1 })),
  dModel: schema.optional(SIZE),
  dtScale: schema.optional(POSITIVE),
  dtype: schema.optional(schema.oneOf(["float32", "float64"] as const)),
  ...DT_RANGE_FIELDS,
});

// In the order the checks read them: A_log fixes d and n, dt_proj fixes r.
const S6_PARAMS = schema.options(
  {
    ALog: A_LOG,
    dtProj: schema.tensor({ rank: 2, axes: ["d", "r"] }),
    xProj: schema.tensor({ rank: 2, axes: ["r + 2n", "d"] }),
    dtBias: schema.tensor({ rank: 1, axes: ["d"] }),
    D: schema.tensor({ rank: 1, axes: ["d"] }),
  },
  "S6 parameters",
);

const S6_OPTIONS = schema.options({
  z: schema.optional(schema.present<Tensor>()),
  returnLastState: schema.optional(schema.boolean()),
});
