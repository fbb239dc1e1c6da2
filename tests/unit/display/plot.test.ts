/**
 * The plotly figures of lib/src/display/plot.ts: show's one-line summary outside a kernel;
 * figureBundle's MIME bundle (the plotly JSON as the notebook stores it, an HTML fallback the data
 * cannot break out of, no embedded plotly.js, exact integers); lineChart's and heatmap's traces;
 * argument errors.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type Figure, figureBundle, heatmap, lineChart, show } from "../../../lib/src/display/plot";
import { inKernel } from "../../../lib/src/display/jupyter";

const require_ = createRequire(__filename);

afterEach(() => vi.restoreAllMocks());

/** The figure's JSON as the notebook stores it. */
function plotlyJson(fig: Figure): Figure {
  return figureBundle(fig)["application/vnd.plotly.v1+json"] as Figure;
}

describe("show outside a kernel", () => {
  it("prints a one-line text summary", () => {
    expect(inKernel()).toBe(false);
    const log = vi.spyOn(console, "log").mockImplementation(() => undefined);
    show(
      lineChart(
        [
          { name: "ecg", y: [1, 2, 3] },
          { name: "smoothed", y: [1, 1.5, 2] },
        ],
        { title: "ECG" },
      ),
    );
    expect(log).toHaveBeenCalledTimes(1);
    expect(log).toHaveBeenCalledWith("[plot] ECG: ecg, smoothed");
  });

  it("falls back to 'figure' and 'trace i' for untitled figures and unnamed traces", () => {
    const bundle = figureBundle({ data: [{ y: [1] }, { name: "b", y: [2] }] });
    expect(bundle["text/plain"]).toBe("[plot] figure: trace 0, b");
    expect(figureBundle(lineChart([{ name: "a", y: [1] }]))["text/plain"]).toBe("[plot] figure: a");
  });

  it("draws a series' interval as asymmetric error bars, and rejects one that does not hold y", () => {
    const fig = lineChart([
      { name: "acc", x: [1, 2], y: [0.5, 1], interval: { low: [0.25, 0.9], high: [0.75, 1] } },
    ]);
    const trace = fig.data[0] as { error_y?: { array: number[]; arrayminus: number[] } };
    expect(trace.error_y?.array).toEqual([0.25, 0]);
    expect(trace.error_y?.arrayminus[0]).toBe(0.25);
    expect(trace.error_y?.arrayminus[1]).toBeCloseTo(0.1, 12);
    expect(() => lineChart([{ name: "a", y: [0.5], interval: { low: [0.6], high: [1] } }])).toThrow(
      /lineChart: argument 'series\[0\]\.interval' must be \{ low, high \}/,
    );
    expect(() =>
      lineChart([{ name: "a", y: [0.5, 1], interval: { low: [0], high: [1] } }]),
    ).toThrow(/lineChart: argument 'series\[0\]\.interval'/);
  });

  it("rejects a non-figure, naming the argument", () => {
    expect(() => show(null as unknown as Figure)).toThrow(
      /show: argument 'figure' must be \{ data: Trace\[\], layout\? \} \(got null/,
    );
    expect(() => show({ data: "x" } as unknown as Figure)).toThrow(/show: argument 'figure'/);
  });
});

describe("figureBundle", () => {
  it("carries the plotly JSON, an HTML fallback and plain text", () => {
    const bundle = figureBundle(lineChart([{ name: "a", y: [1, 2] }]));
    expect(Object.keys(bundle).sort()).toEqual([
      "application/vnd.plotly.v1+json",
      "text/html",
      "text/plain",
    ]);
    expect(typeof bundle["text/html"]).toBe("string");
  });

  it("turns typed arrays into plain arrays and non-finite numbers into null", () => {
    const y = new Float64Array([1, NaN, Infinity, -Infinity, 2]);
    const json = plotlyJson({
      data: [{ name: "gappy", y, x: [0, 1, 2, 3, 4] }],
      layout: { width: NaN },
    });
    expect(json.data[0].y).toEqual([1, null, null, null, 2]);
    expect(json.layout?.width).toBeNull();
    const text = JSON.stringify(json);
    expect(text).not.toMatch(/NaN|Infinity/);
    expect(JSON.parse(text)).toEqual(json);
  });

  it("keeps integers exact and 8 significant digits of other numbers", () => {
    const y = new Float32Array([0.1, 1 / 3, 16777217, -2.5e-12]);
    const json = plotlyJson({ data: [{ y, x: [2 ** 40 + 1, 0.123456789012, 1, 2] }] });
    const f = (v: number): number => Math.fround(v);
    expect(json.data[0].y).toEqual([0.1, Number(f(1 / 3).toPrecision(8)), f(16777217), -2.5e-12]);
    expect(json.data[0].x).toEqual([2 ** 40 + 1, 0.12345679, 1, 2]);
    for (const [got, want] of (json.data[0].y as number[]).map((v, i) => [v, y[i]])) {
      expect(Math.abs(got - want)).toBeLessThanOrEqual(5e-8 * Math.abs(want));
    }
  });

  it("keeps the layout's height and adds margins", () => {
    const json = plotlyJson(lineChart([{ name: "a", y: [1] }], { height: 250, title: "t" }));
    expect(json.layout?.height).toBe(250);
    expect(json.layout?.margin).toBeDefined();
  });

  it("cannot be broken out of its <script> by the data", () => {
    const evil = "</script><script>alert(1)</script>";
    const html = figureBundle(lineChart([{ name: evil, y: [1, 2] }], { title: evil }))[
      "text/html"
    ] as string;
    const closings = html.match(/<\/script/gi) ?? [];
    expect(closings.length).toBe(1);
    expect(html.trimEnd().endsWith("</script>")).toBe(true);
    // The escaped data still parses back to the same name.
    const json = /var fig = (.*);\n/.exec(html)?.[1];
    expect(JSON.parse(json!).data[0].name).toBe(evil);
  });

  it("does not embed plotly.js: a 1000-point figure stays small", () => {
    const y = Array.from({ length: 1000 }, (_, i) => Math.sin(i / 10));
    const bundle = figureBundle(lineChart([{ name: "sine", y }]));
    const html = bundle["text/html"] as string;
    const size = Buffer.byteLength(JSON.stringify(bundle));
    expect(size).toBeLessThan(50_000);
    const plotlyJs = readFileSync(require_.resolve("plotly.js-dist/plotly.js"), "utf8");
    expect(plotlyJs.length).toBeGreaterThan(1_000_000);
    expect(html.length).toBeLessThan(plotlyJs.length / 100);
    // It refers to the project's own copy instead.
    expect(html).toContain("plotly.js-dist/plotly.js");
  });
});

describe("lineChart", () => {
  it("builds one scatter trace per series with default x", () => {
    const fig = lineChart(
      [
        { name: "a", y: new Float32Array([1, 2, 3]) },
        { name: "b", y: [3, 2], x: [10, 20], mode: "markers", dash: "dot" },
      ],
      { title: "T", xLabel: "t", yLabel: "v", logY: true },
    );
    expect(fig.data[0]).toMatchObject({
      type: "scatter",
      mode: "lines",
      name: "a",
      x: [0, 1, 2],
      y: [1, 2, 3],
    });
    expect(fig.data[1]).toMatchObject({
      mode: "markers",
      x: [10, 20],
      y: [3, 2],
      line: { dash: "dot" },
    });
    expect(fig.layout).toMatchObject({
      title: { text: "T" },
      xaxis: { title: { text: "t" }, type: "linear" },
      yaxis: { title: { text: "v" }, type: "log" },
    });
  });

  it("rejects bad input, naming the argument", () => {
    expect(() => lineChart([])).toThrow(/lineChart: argument 'series' must be a non-empty array/);
    expect(() => lineChart("y" as unknown as [])).toThrow(/lineChart: argument 'series'/);
    expect(() => lineChart([{ name: "a" } as unknown as { name: string; y: number[] }])).toThrow(
      /lineChart: argument 'series\[0\]' must be \{ name, y: number\[\] \}/,
    );
    expect(() =>
      lineChart([{ name: "a", y: [1] }, null as unknown as { name: string; y: number[] }]),
    ).toThrow(/lineChart: argument 'series\[1\]'/);
    expect(() => lineChart([{ name: "a", y: [1, 2, 3], x: [0, 1] }])).toThrow(
      /lineChart: argument 'series\[0\]\.x' must be an array of 3 values/,
    );
  });
});

describe("heatmap", () => {
  it("builds a heatmap trace with reversed rows", () => {
    const fig = heatmap([new Float64Array([1, 2]), [3, 4]], {
      xTicks: ["a", "b"],
      colorscale: "Viridis",
    });
    expect(fig.data[0]).toMatchObject({
      type: "heatmap",
      z: [
        [1, 2],
        [3, 4],
      ],
      x: ["a", "b"],
      colorscale: "Viridis",
    });
    expect(fig.layout?.yaxis).toMatchObject({ autorange: "reversed" });
  });

  it("rejects bad input, naming the argument", () => {
    expect(() => heatmap([])).toThrow(/heatmap: argument 'z' must be a non-empty array of rows/);
    expect(() => heatmap("z" as unknown as number[][])).toThrow(/heatmap: argument 'z'/);
    expect(() => heatmap([[1, 2], [3]])).toThrow(
      /heatmap: argument 'z\[1\]' must be a row of 2 numbers/,
    );
    expect(() => heatmap([[1], 5 as unknown as number[]])).toThrow(/heatmap: argument 'z\[1\]'/);
  });
});
