/**
 * loadEcg (lib/src/datasets/ecg.ts) against the values SciPy documents for electrocardiogram()
 * (first and last samples, mean, standard deviation) and against a decoding of the raw bytes
 * written here.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { ECG_FILE, loadEcg } from "../../../lib/src/datasets/ecg";

const repoDatasets = path.resolve(__dirname, "..", "..", "..", "datasets");

describe("the ECG", () => {
  it("loads as millivolts with SciPy's documented statistics", () => {
    const ecg = loadEcg();
    expect(ecg.sampleRateHz).toBe(360);
    expect(ecg.signal.shape).toEqual([108000]);
    // SciPy's docs for electrocardiogram(): first values -0.245, -0.215, -0.185; last -0.385;
    // mean -0.16510875, std 0.5992473991177294.
    expect(Array.from(ecg.signal.data.slice(0, 3))).toEqual([-0.245, -0.215, -0.185]);
    expect(ecg.signal.data[107999]).toBeCloseTo(-0.385, 12);
    let mean = 0;
    for (const v of ecg.signal.data) mean += v;
    mean /= 108000;
    let variance = 0;
    for (const v of ecg.signal.data) variance += (v - mean) ** 2;
    expect(mean).toBeCloseTo(-0.16510875, 9);
    expect(Math.sqrt(variance / 108000)).toBeCloseTo(0.5992473991177294, 9);
  });

  it("matches an independent decoding of the raw bytes", () => {
    const raw = readFileSync(path.join(repoDatasets, ECG_FILE));
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const ecg = loadEcg();
    for (const i of [0, 1, 12345, 54000, 107999]) {
      expect(ecg.signal.data[i]).toBe((view.getUint16(2 * i, true) - 1024) / 200);
    }
  });
});
