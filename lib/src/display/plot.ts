/**
 * Interactive plots with plotly.js, offline.
 *
 * Each figure is sent as ONE output carrying three representations:
 * - `application/vnd.plotly.v1+json`: the figure itself. JupyterLab 4 (with the `plotly` Python
 *   package's renderer, which our start command and environment.yml install) and VS Code draw it
 *   natively.
 * - `text/html`: a small script for front ends without that renderer (the classic Notebook). It
 *   draws with `window.Plotly` when a previous figure already loaded it, otherwise loads the
 *   project's own copy of plotly.js (the `plotly.js-dist` package) from the Jupyter server's
 *   `files/` route. No CDN is involved, and the library is never embedded in the notebook, so an
 *   executed lesson grows only by each figure's data.
 * - `text/plain`: a one-line summary for scripts and plain-text viewers.
 */
import { randomBytes } from "node:crypto";
import * as path from "node:path";
import { type MimeBundle, displayBundle } from "./jupyter";
import { checkOptions, describe, schema } from "../validate";

/** A plotly trace (`{ x, y, type: "scatter", mode: "lines", name }` and friends). */
export type Trace = Record<string, unknown>;

/** A plotly figure. */
export interface Figure {
  data: Trace[];
  layout?: Record<string, unknown>;
}

/** Options shared by the chart helpers. */
export interface ChartOptions {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  logX?: boolean;
  logY?: boolean;
  height?: number;
}

let plotlyPathCache: string | null = null;
function plotlyJsPath(): string {
  plotlyPathCache ??= require.resolve("plotly.js-dist/plotly.js");
  return plotlyPathCache;
}

/**
 * A number as stored in a figure: non-finite becomes null (JSON has no NaN), integers stay exact,
 * other values keep 8 significant digits, far more than a plot can show. This halves the size of
 * each figure in an executed notebook (a float32 value such as 0.1 would otherwise be written as
 * 0.10000000149011612).
 */
function plotNumber(v: number): number | null {
  if (!Number.isFinite(v)) return null;
  return Number.isInteger(v) ? v : Number(v.toPrecision(8));
}

/** Typed arrays become plain arrays and numbers go through {@link plotNumber}. */
function toJsonValue(value: unknown): unknown {
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    return Array.from(value as unknown as ArrayLike<number>, plotNumber);
  }
  if (Array.isArray(value)) return value.map(toJsonValue);
  if (typeof value === "number") return plotNumber(value);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = toJsonValue(v);
    return out;
  }
  return value;
}

/** The HTML+JS fallback for front ends that lack a plotly renderer (see the module comment). */
function htmlFallback(figure: Figure, height: number): string {
  const id = `mamba-ts-plot-${randomBytes(6).toString("hex")}`;
  const abs = plotlyJsPath();
  const rel = path.relative(process.cwd(), abs).split(path.sep).join("/");
  // `</` inside a <script> would end it early; JSON allows escaping the slash.
  const json = JSON.stringify(figure).replace(/<\//g, "<\\/");
  const where = JSON.stringify({ abs, rel }).replace(/<\//g, "<\\/");
  return `<div id="${id}" class="mamba-ts-plot" style="height:${height}px;width:100%"></div>
<script type="text/javascript">
(function () {
  var fig = ${json};
  var where = ${where};
  var el = document.getElementById("${id}");
  function draw(P) {
    if (!P || !P.newPlot) return fail("plotly.js did not load");
    window.Plotly = P;
    P.newPlot(el, fig.data, fig.layout || {}, { responsive: true });
  }
  function fail(msg) {
    el.style.height = "auto";
    el.textContent = "[plot not shown: " + msg + "]";
  }
  if (window.Plotly) return draw(window.Plotly);
  var join = function (a, b) {
    var parts = (a ? a.split("/") : []).concat(b.split("/")), out = [];
    parts.forEach(function (p) { if (p === "..") out.pop(); else if (p && p !== ".") out.push(p); });
    return out.join("/");
  };
  var base = document.body.getAttribute("data-base-url"), url = null;
  var cfg = document.getElementById("jupyter-config-data");
  if (cfg) {
    // JupyterLab without the plotly renderer: the server root is in the page config.
    try {
      var pc = JSON.parse(cfg.textContent);
      base = pc.baseUrl || "/";
      var root = (pc.serverRoot || "").replace(/\\\\/g, "/").replace(/\\/$/, "");
      if (root && where.abs.indexOf(root + "/") === 0) url = base + "files/" + join("", where.abs.slice(root.length + 1));
    } catch (e) {}
  } else if (window.Jupyter && Jupyter.notebook) {
    // Classic Notebook: plotly.js relative to this notebook's folder.
    var dir = Jupyter.notebook.notebook_path.split("/").slice(0, -1).join("/");
    url = (base || "/") + "files/" + join(dir, where.rel);
  }
  if (!url) return fail("plotly.js is outside the Jupyter server's root; start Jupyter from the course folder");
  if (window.__mambaTsPlotly) return window.__mambaTsPlotly.push(draw);
  window.__mambaTsPlotly = [draw];
  // plotly.js 3+ is not an AMD module: loaded through RequireJS it hands over nothing and sets
  // window.Plotly instead.
  var flush = function (P) { P = P || window.Plotly; var q = window.__mambaTsPlotly; window.__mambaTsPlotly = null; q.forEach(function (f) { f(P); }); };
  if (typeof window.define === "function" && window.define.amd && window.require) {
    // Pages with RequireJS (the classic Notebook) must load the UMD bundle as a module.
    window.require.config({ paths: { "mamba-ts-plotly": url.replace(/\\.js$/, "") } });
    window.require(["mamba-ts-plotly"], flush, function () { fail("could not load " + url); });
  } else {
    var s = document.createElement("script");
    s.src = url;
    s.onload = function () { flush(window.Plotly); };
    s.onerror = function () { fail("could not load " + url); };
    document.head.appendChild(s);
  }
})();
</script>`;
}

/**
 * The MIME bundle that {@link show} sends for a figure: the plotly JSON (typed arrays made plain,
 * non-finite numbers made null), the HTML fallback and a one-line text summary.
 */
export function figureBundle(figure: Figure): MimeBundle {
  if (figure === null || typeof figure !== "object" || !Array.isArray(figure.data)) {
    throw new Error(
      `show: argument 'figure' must be { data: Trace[], layout? } (got ${describe(figure)})`,
    );
  }
  const clean = toJsonValue(figure) as Figure;
  const height = typeof clean.layout?.height === "number" ? clean.layout.height : 420;
  clean.layout = { height, margin: { t: 50, r: 20, b: 50, l: 60 }, ...clean.layout };
  const title = (clean.layout.title as { text?: string } | undefined)?.text || "figure";
  const names = clean.data.map((t, i) => String(t.name ?? `trace ${i}`)).join(", ");
  return {
    "application/vnd.plotly.v1+json": clean,
    "text/html": htmlFallback(clean, height),
    "text/plain": `[plot] ${title}: ${names}`,
  };
}

/**
 * Shows a plotly figure as a cell output (see the module comment for what is sent). In a plain
 * script, prints a one-line summary instead.
 */
export function show(figure: Figure): void {
  displayBundle(figureBundle(figure));
}

function axisLayout(options: ChartOptions): Record<string, unknown> {
  return {
    title: { text: options.title ?? "" },
    height: options.height ?? 420,
    xaxis: { title: { text: options.xLabel ?? "" }, type: options.logX ? "log" : "linear" },
    yaxis: { title: { text: options.yLabel ?? "" }, type: options.logY ? "log" : "linear" },
  };
}

/** One named line of a {@link lineChart}. */
export interface Series {
  name: string;
  y: ArrayLike<number>;
  /** x values; defaults to 0..n-1. */
  x?: ArrayLike<number>;
  /** "lines" (default), "markers" or "lines+markers". */
  mode?: "lines" | "markers" | "lines+markers";
  dash?: "solid" | "dash" | "dot";
  /**
   * An interval around each y value (a confidence interval, say), drawn as error bars from
   * low[i] to high[i]; both arrays have one value per y value, low[i] ≤ y[i] ≤ high[i].
   */
  interval?: { low: ArrayLike<number>; high: ArrayLike<number> };
}

/** A figure with one line per series. */
export function lineChart(series: Series[], options: ChartOptions = {}): Figure {
  checkOptions("lineChart", "options", options, CHART_OPTIONS);
  if (!Array.isArray(series) || series.length === 0) {
    throw new Error(
      `lineChart: argument 'series' must be a non-empty array of { name, y } (got ${describe(series)})`,
    );
  }
  return {
    data: series.map((s, i) => {
      if (
        s === null ||
        typeof s !== "object" ||
        s.y === undefined ||
        typeof s.y.length !== "number"
      ) {
        throw new Error(
          `lineChart: argument 'series[${i}]' must be { name, y: number[] } (got ${describe(s)})`,
        );
      }
      checkOptions("lineChart", `series[${i}]`, s, SERIES);
      if (s.y.length > MAX_PLOT_POINTS) {
        throw new Error(
          `lineChart: argument 'series[${i}].y' must have at most ${MAX_PLOT_POINTS} points (got ${s.y.length}); plot every k-th value`,
        );
      }
      const y = Array.from(s.y);
      if (
        s.x !== undefined &&
        (s.x === null || typeof s.x.length !== "number" || s.x.length !== y.length)
      ) {
        throw new Error(
          `lineChart: argument 'series[${i}].x' must be an array of ${y.length} values (one per y value) (got ${describe(s.x)})`,
        );
      }
      const trace: Record<string, unknown> = {
        type: "scatter",
        mode: s.mode ?? "lines",
        name: s.name,
        x: s.x ? Array.from(s.x) : y.map((_, k) => k),
        y,
        line: { dash: s.dash ?? "solid" },
      };
      if (s.interval !== undefined) {
        const { low, high } = s.interval;
        const fits = (a: unknown) =>
          a !== null &&
          typeof a === "object" &&
          (a as ArrayLike<number>).length === y.length &&
          Array.from(a as ArrayLike<number>).every((v) => typeof v === "number");
        const ordered = fits(low) && fits(high) && y.every((v, k) => low[k] <= v && v <= high[k]);
        if (!ordered) {
          throw new Error(
            `lineChart: argument 'series[${i}].interval' must be { low, high }, arrays of ${y.length} numbers with low ≤ y ≤ high (got ${describe(s.interval)})`,
          );
        }
        trace.error_y = {
          type: "data",
          symmetric: false,
          array: y.map((v, k) => high[k] - v),
          arrayminus: y.map((v, k) => v - low[k]),
        };
      }
      return trace;
    }),
    layout: axisLayout(options),
  };
}

/** A heatmap of a matrix given as rows (`z[row][col]`). */
export function heatmap(
  z: ArrayLike<number>[],
  options: ChartOptions & { colorscale?: string; xTicks?: string[]; yTicks?: string[] } = {},
): Figure {
  checkOptions("heatmap", "options", options, HEATMAP_OPTIONS);
  if (!Array.isArray(z) || z.length === 0) {
    throw new Error(`heatmap: argument 'z' must be a non-empty array of rows (got ${describe(z)})`);
  }
  z.forEach((row, r) => {
    if (
      row === null ||
      typeof row !== "object" ||
      typeof row.length !== "number" ||
      row.length !== z[0].length
    ) {
      throw new Error(
        `heatmap: argument 'z[${r}]' must be a row of ${z[0]?.length ?? "n"} numbers like z[0] (got ${describe(row)})`,
      );
    }
  });
  if (z.length * z[0].length > MAX_PLOT_POINTS) {
    throw new Error(
      `heatmap: argument 'z' must have at most ${MAX_PLOT_POINTS} cells (got ${z.length} × ${z[0].length})`,
    );
  }
  return {
    data: [
      {
        type: "heatmap",
        z: z.map((row) => Array.from(row)),
        colorscale: options.colorscale ?? "RdBu",
        ...(options.xTicks ? { x: options.xTicks } : {}),
        ...(options.yTicks ? { y: options.yTicks } : {}),
      },
    ],
    layout: {
      ...axisLayout(options),
      yaxis: { autorange: "reversed", title: { text: options.yLabel ?? "" } },
    },
  };
}

// Checks of the chart helpers' options (a misspelt key must not be silently dropped).

/** Most points one series of {@link lineChart} (or cells of a {@link heatmap}) may have. */
export const MAX_PLOT_POINTS = 1_000_000;

const CHART_FIELDS = {
  title: schema.optional(schema.string({ allowEmpty: true })),
  xLabel: schema.optional(schema.string({ allowEmpty: true })),
  yLabel: schema.optional(schema.string({ allowEmpty: true })),
  logX: schema.optional(schema.boolean()),
  logY: schema.optional(schema.boolean()),
  height: schema.optional(schema.integer({ min: 50, max: 10000 })),
};

const CHART_OPTIONS = schema.options(CHART_FIELDS);

const HEATMAP_OPTIONS = schema.options({
  ...CHART_FIELDS,
  colorscale: schema.optional(schema.string()),
  xTicks: schema.optional(schema.present<string[]>()),
  yTicks: schema.optional(schema.present<string[]>()),
});

const SERIES = schema.options(
  {
    name: schema.optional(schema.string({ allowEmpty: true })),
    y: schema.present<ArrayLike<number>>(),
    x: schema.optional(schema.present<ArrayLike<number>>()),
    mode: schema.optional(schema.oneOf(["lines", "markers", "lines+markers"] as const)),
    dash: schema.optional(schema.oneOf(["solid", "dash", "dot"] as const)),
    interval: schema.optional(schema.present<NonNullable<Series["interval"]>>()),
  },
  "a series",
);
