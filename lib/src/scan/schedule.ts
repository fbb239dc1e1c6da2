/**
 * The passes of each scan algorithm as data: which element combines with which, round by round.
 * Lesson 07 draws them ({@link scanDiagram}) and checks them by running them
 * ({@link runScanSchedule}) against {@link linearScan}.
 */
import type { Figure, Trace } from "../display/plot";
import { argumentError, checkArg, checkOptions, describe, isAbsent, schema } from "../validate";
import type { Tensor } from "../tensor";
import { SCAN_ALGORITHMS, type ScanAlgorithm } from "./linear-scan";

/** Where an operand comes from: a slot of the working array, or an original input element. */
export type ScanOperand = { slot: number } | { input: number } | "identity";

/**
 * One operation of a round: `slot ← first ∘ second` (or `slot ← first` when `second` is absent).
 * All operations of a round read the values the slots had before the round (they run in parallel).
 */
export interface ScanOp {
  slot: number;
  first: ScanOperand;
  second?: ScanOperand;
}

/** One round of a schedule. */
export interface ScanRound {
  /** What the round does, for plots ("up-sweep, stride 4"). */
  label: string;
  ops: ScanOp[];
}

/**
 * A complete schedule: the working array has `slots` entries (length L, or the padded power of
 * two for Blelloch) that start as the input pairs (padding: the identity); after the last round,
 * slot `output[t]` holds the inclusive prefix pair of 0..t (whose b is h_t).
 */
export interface ScanSchedule {
  algorithm: ScanAlgorithm;
  length: number;
  slots: number;
  rounds: ScanRound[];
  output: number[];
}

/**
 * The rounds of `algorithm` on a sequence of length L (see `linear-scan.ts` for the algorithms).
 *
 * @param length 1 <= L <= {@link MAX_SCHEDULE_LENGTH} (a schedule lists every operation: it is for
 *   drawing and checking, not for running long scans)
 * @param algorithm one of {@link SCAN_ALGORITHMS}
 * @param options chunkSize T for "chunked" (default ⌈√L⌉)
 */
export function scanSchedule(
  length: number,
  algorithm: ScanAlgorithm,
  options: { chunkSize?: number } = {},
): ScanSchedule {
  const fn = "scanSchedule";
  const L = checkArg(fn, "length", length, schema.integer({ min: 1, max: MAX_SCHEDULE_LENGTH }));
  checkArg(fn, "algorithm", algorithm, schema.oneOf(SCAN_ALGORITHMS));
  const o = checkOptions(fn, "options", options, SCHEDULE_OPTIONS);
  const rounds: ScanRound[] = [];
  const id = (i: number): number[] => Array.from({ length: i }, (_, k) => k);
  if (algorithm === "sequential") {
    for (let t = 1; t < L; t++) {
      rounds.push({
        label: `step ${t}`,
        ops: [{ slot: t, first: { slot: t - 1 }, second: { slot: t } }],
      });
    }
    return { algorithm, length: L, slots: L, rounds, output: id(L) };
  }
  if (algorithm === "hillis-steele") {
    for (let off = 1; off < L; off *= 2) {
      const ops: ScanOp[] = [];
      for (let t = off; t < L; t++)
        ops.push({ slot: t, first: { slot: t - off }, second: { slot: t } });
      rounds.push({ label: `offset ${off}`, ops });
    }
    return { algorithm, length: L, slots: L, rounds, output: id(L) };
  }
  if (algorithm === "blelloch") {
    let P = 1;
    while (P < L) P *= 2;
    for (let stride = 2; stride <= P; stride *= 2) {
      const ops: ScanOp[] = [];
      for (let i = stride - 1; i < P; i += stride) {
        ops.push({ slot: i, first: { slot: i - stride / 2 }, second: { slot: i } });
      }
      rounds.push({ label: `up-sweep, stride ${stride}`, ops });
    }
    // The root's total is kept aside in an extra slot P (where the inclusive scan's last element
    // is read), then the root is cleared and the down-sweep runs.
    rounds.push({
      label: "save total, clear root",
      ops: [
        { slot: P, first: { slot: P - 1 } },
        { slot: P - 1, first: "identity" },
      ],
    });
    for (let stride = P; stride >= 2; stride /= 2) {
      const ops: ScanOp[] = [];
      for (let i = stride - 1; i < P; i += stride) {
        const l = i - stride / 2;
        ops.push({ slot: l, first: { slot: i } });
        ops.push({ slot: i, first: { slot: i }, second: { slot: l } });
      }
      rounds.push({ label: `down-sweep, stride ${stride}`, ops });
    }
    // exclusive_{t+1} is inclusive_t; the last inclusive is the saved total.
    const output = id(L).map((t) => (t + 1 < P ? t + 1 : P));
    return { algorithm, length: L, slots: P + 1, rounds, output };
  }
  const T = isAbsent(o.chunkSize) ? Math.max(1, Math.ceil(Math.sqrt(L))) : o.chunkSize;
  const C = Math.ceil(L / T);
  const end = (c: number): number => Math.min(L, (c + 1) * T) - 1;
  for (let k = 1; k < Math.min(T, L); k++) {
    const ops: ScanOp[] = [];
    for (let c = 0; c < C; c++) {
      const t = c * T + k;
      if (t < L) ops.push({ slot: t, first: { slot: t - 1 }, second: { slot: t } });
    }
    rounds.push({ label: `in-chunk step ${k}`, ops });
  }
  for (let c = 1; c < C; c++) {
    rounds.push({
      label: `carry into chunk ${c}`,
      ops: [{ slot: end(c), first: { slot: end(c - 1) }, second: { slot: end(c) } }],
    });
  }
  if (C > 1) {
    const ops: ScanOp[] = [];
    for (let c = 1; c < C; c++) {
      for (let t = c * T; t < end(c); t++) {
        ops.push({ slot: t, first: { slot: c * T - 1 }, second: { slot: t } });
      }
    }
    rounds.push({ label: "fix-up", ops });
  }
  return { algorithm, length: L, slots: L, rounds, output: id(L) };
}

/**
 * Runs a schedule on actual numbers, with parallel semantics (each round reads the values from
 * before the round). Shapes: a, b (l) with l = schedule.length; returns h (l), float64.
 */
export function runScanSchedule(schedule: ScanSchedule, a: Tensor, b: Tensor): Tensor {
  const fn = "runScanSchedule";
  checkSchedule(fn, schedule);
  const L = schedule.length;
  const ta = checkArg(fn, "a", a, schema.tensor({ shape: [L], axes: ["l"] }));
  const tb = checkArg(fn, "b", b, schema.tensor({ shape: [L], axes: ["l"] }));
  const A = new Float64Array(schedule.slots).fill(1);
  const B = new Float64Array(schedule.slots);
  A.set(ta.data);
  B.set(tb.data);
  const read = (o: ScanOperand, pa: Float64Array, pb: Float64Array): [number, number] => {
    if (o === "identity") return [1, 0];
    if ("slot" in o) return [pa[o.slot], pb[o.slot]];
    return [ta.data[o.input], tb.data[o.input]];
  };
  for (const round of schedule.rounds) {
    const pa = A.slice();
    const pb = B.slice();
    for (const op of round.ops) {
      const [a1, b1] = read(op.first, pa, pb);
      if (op.second === undefined) {
        A[op.slot] = a1;
        B[op.slot] = b1;
      } else {
        const [a2, b2] = read(op.second, pa, pb);
        A[op.slot] = a1 * a2;
        B[op.slot] = a2 * b1 + b2;
      }
    }
  }
  return { shape: [L], data: Float64Array.from(schedule.output, (s) => B[s]) };
}

/** Checks the argument schedule: a schedule from scanSchedule. */
function checkSchedule(fn: string, schedule: unknown): void {
  const s = schedule as Partial<ScanSchedule> | null;
  if (s === null || typeof s !== "object" || !Array.isArray(s.rounds)) {
    throw argumentError(fn, "schedule", `a schedule from scanSchedule (got ${describe(schedule)})`);
  }
}

/** The counts of a schedule. */
interface ScheduleCost {
  combines: number;
  rounds: number;
  widest: number;
}

/** Counts of a schedule: combines (ops with two operands), rounds, and the largest round. */
export function scheduleCost(schedule: ScanSchedule): ScheduleCost {
  checkSchedule("scheduleCost", schedule);
  return costOf(schedule);
}

function costOf(schedule: ScanSchedule): ScheduleCost {
  let combines = 0;
  let widest = 0;
  for (const r of schedule.rounds) {
    let k = 0;
    for (const op of r.ops) if (op.second !== undefined) k++;
    combines += k;
    widest = Math.max(widest, k);
  }
  return { combines, rounds: schedule.rounds.length, widest };
}

const DIAGRAM_OPTIONS = schema.options({
  title: schema.optional(schema.string({ allowEmpty: true })),
});

/**
 * A plotly figure of a schedule: positions across, rounds downwards. Grey vertical lines carry
 * every slot's value from one round to the next; a blue line brings the other operand of a combine
 * into its slot (drawn as a larger blue dot), an orange dashed line is a copy, and an orange cross
 * a slot reset to the identity. Padding slots (Blelloch) and the saved-total slot are grey.
 */

export function scanDiagram(schedule: ScanSchedule, options: { title?: string } = {}): Figure {
  checkSchedule("scanDiagram", schedule);
  checkOptions("scanDiagram", "options", options, DIAGRAM_OPTIONS);
  const cost = costOf(schedule);
  const R = schedule.rounds.length;
  const carryX: (number | null)[] = [];
  const carryY: (number | null)[] = [];
  for (let s = 0; s < schedule.slots; s++) {
    carryX.push(s, s, null);
    carryY.push(0, R, null);
  }
  const combineX: (number | null)[] = [];
  const combineY: (number | null)[] = [];
  const copyX: (number | null)[] = [];
  const copyY: (number | null)[] = [];
  const hitX: number[] = [];
  const hitY: number[] = [];
  const resetX: number[] = [];
  const resetY: number[] = [];
  schedule.rounds.forEach((round, r) => {
    for (const op of round.ops) {
      if (op.first === "identity") {
        resetX.push(op.slot);
        resetY.push(r + 1);
        continue;
      }
      if (op.second === undefined) {
        if ("slot" in op.first) {
          copyX.push(op.first.slot, op.slot, null);
          copyY.push(r, r + 1, null);
        }
        continue;
      }
      const other = [op.first, op.second].find(
        (o) => o !== "identity" && "slot" in o && o.slot !== op.slot,
      ) as { slot: number } | undefined;
      if (other) {
        combineX.push(other.slot, op.slot, null);
        combineY.push(r, r + 1, null);
      }
      hitX.push(op.slot);
      hitY.push(r + 1);
    }
  });
  const nodeX: number[] = [];
  const nodeY: number[] = [];
  const padX: number[] = [];
  const padY: number[] = [];
  for (let r = 0; r <= R; r++) {
    for (let s = 0; s < schedule.slots; s++) {
      (s < schedule.length ? nodeX : padX).push(s);
      (s < schedule.length ? nodeY : padY).push(r);
    }
  }
  const data: Trace[] = [
    {
      x: carryX,
      y: carryY,
      type: "scatter",
      mode: "lines",
      name: "value carried down",
      line: { color: "#ddd", width: 1 },
      hoverinfo: "skip",
    },
    {
      x: combineX,
      y: combineY,
      type: "scatter",
      mode: "lines",
      name: "combine: other operand",
      line: { color: "#1f77b4", width: 1.5 },
    },
    {
      x: nodeX,
      y: nodeY,
      type: "scatter",
      mode: "markers",
      name: "element",
      marker: { color: "#333", size: 5 },
    },
    {
      x: hitX,
      y: hitY,
      type: "scatter",
      mode: "markers",
      name: "slot ← left ∘ slot",
      marker: { color: "#1f77b4", size: 9 },
    },
  ];
  if (copyX.length > 0) {
    data.push({
      x: copyX,
      y: copyY,
      type: "scatter",
      mode: "lines",
      name: "copy",
      line: { color: "#ff7f0e", width: 1.5, dash: "dash" },
    });
  }
  if (resetX.length > 0) {
    data.push({
      x: resetX,
      y: resetY,
      type: "scatter",
      mode: "markers",
      name: "set to identity (1, 0)",
      marker: { color: "#ff7f0e", size: 10, symbol: "x" },
    });
  }
  if (padX.length > 0) {
    data.push({
      x: padX,
      y: padY,
      type: "scatter",
      mode: "markers",
      name: "padding / saved total",
      marker: { color: "#bbb", size: 5 },
    });
  }
  const title =
    options.title ??
    `${schedule.algorithm}, L = ${schedule.length}: ${cost.combines} combines in ${cost.rounds} rounds`;
  return {
    data,
    layout: {
      title: { text: title },
      height: Math.min(900, 170 + 42 * R),
      xaxis: { title: { text: "position t" }, dtick: 1, zeroline: false },
      yaxis: {
        autorange: "reversed",
        zeroline: false,
        tickvals: schedule.rounds.map((_, r) => r + 0.5),
        ticktext: schedule.rounds.map((r) => r.label),
      },
      margin: { l: 170, t: 50, b: 40 },
      showlegend: true,
    },
  };
}

/** Longest sequence {@link scanSchedule} lays out (Hillis-Steele lists about L·log2 L operations). */
export const MAX_SCHEDULE_LENGTH = 4096;

const SCHEDULE_OPTIONS = schema.options({
  chunkSize: schema.optional(schema.integer({ min: 1 })),
});
