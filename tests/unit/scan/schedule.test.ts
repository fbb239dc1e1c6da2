/**
 * Scan schedules (lib/src/scan/schedule.ts): run with parallel semantics they give the recurrence's
 * closed form for every algorithm and length; their combine and round counts equal linearScan's
 * stats; scanDiagram's figure.
 */
import { describe, expect, it } from "vitest";
import { randomRecurrence, recurrenceClosedForm, relErr } from "../../helpers/reference";
import {
  Rng,
  SCAN_ALGORITHMS,
  type ScanStats,
  type Tensor,
  linearScan,
  runScanSchedule,
  scanDiagram,
  scanSchedule,
  scheduleCost,
} from "../../../lib/src/index";

const t1 = (data: Float64Array | Float32Array): Tensor => ({ shape: [data.length], data });

describe("scan schedules", () => {
  it("run (with parallel semantics) to the closed form, for every algorithm and length", () => {
    const rng = new Rng(31);
    for (const algorithm of SCAN_ALGORITHMS) {
      for (const L of [1, 2, 3, 6, 8, 11, 16]) {
        const { a, b } = randomRecurrence(rng, L);
        const h = runScanSchedule(scanSchedule(L, algorithm), t1(a), t1(b));
        expect(relErr(h.data, recurrenceClosedForm(a, b))).toBeLessThan(1e-12);
      }
    }
  });

  it("count the same combines and rounds as linearScan's stats", () => {
    const rng = new Rng(32);
    for (const algorithm of SCAN_ALGORITHMS) {
      for (const L of [2, 9, 16]) {
        const { a, b } = randomRecurrence(rng, L);
        const stats: ScanStats = { combines: 0, depth: 0 };
        const opts = algorithm === "chunked" ? { chunkSize: 3 } : {};
        linearScan(t1(a), t1(b), { algorithm, stats, ...opts });
        const cost = scheduleCost(scanSchedule(L, algorithm, opts));
        expect(cost.combines).toBe(stats.combines);
        // Blelloch's schedule has one extra round that saves the total and clears the root
        expect(cost.rounds).toBe(stats.depth + (algorithm === "blelloch" ? 1 : 0));
      }
    }
  });

  it("draws as a plotly figure with one line per combine", () => {
    const s = scanSchedule(8, "hillis-steele");
    const fig = scanDiagram(s);
    const lines = fig.data[1] as { x: (number | null)[]; name: string };
    expect(lines.name).toMatch(/combine/);
    expect(lines.x.length).toBe(3 * scheduleCost(s).combines);
    expect(() => scanSchedule(0, "blelloch")).toThrow(/length/);
    expect(() => scanSchedule(4, "fast" as never)).toThrow(/algorithm/);
  });
});
