/**
 * Benchmark: Mamba against the Transformer++ baseline, in one run, on models of about the same
 * size (2 layers, d_model 64; the Transformer's MLP width chosen to match Mamba's parameter count).
 *
 * 1. Forward time against sequence length L = 256 … 8192 (batch 1): `mambaForward` (engine
 *    "typescript", the reference ops, and "simd", WebAssembly SIMD) and `transformerForward` (engine
 *    "typescript": plain TypeScript attention, O(L²); and "simd", its default: the WebAssembly
 *    SIMD backend). The exponent p of time ≈ a·L^p is the least-squares slope of log time on
 *    log L over L >= 1024 (smaller L are dominated by the projections, linear in L for both
 *    models).
 * 2. Forward + backward (loss and every parameter's gradient, as one training step needs):
 *    `mambaLossAndGrads` (recomputing scan backward) and `transformerLossAndGrads` (which keeps
 *    every layer's attention weights: b·H·L² float64 numbers with the "typescript" engine, whose
 *    lengths past 512 MiB of them are skipped; float32 with "simd"), each with the engines
 *    "typescript" and "simd", fitted the same way.
 * 3. Decoding: time per new token and cache bytes at positions 64 … 8192 (`mambaStep` and
 *    `transformerStep`, both on engine "simd"). Mamba's cache is read
 *    by `mambaPrefill` of a real prompt of that length; the Transformer's KV cache is filled with
 *    random keys and values up to that position (a step's cost depends on how many positions it
 *    attends over, not on their values; prefilling 8192 tokens would cost minutes). Each timed
 *    step starts at the same position (the cache's position is reset, and the slot rewritten).
 *
 * Runs predicted (from the growth between the previous two lengths, capped at the model's
 * asymptotic exponent) to take longer than the budget (MVT_BENCH_BUDGET_S, default 20 s) show
 * "skipped" in the tables.
 *
 * Run: `npm run bench -- mamba-vs-transformer` (after `npm run build`).
 */
import { Rng } from "../../dist/rng";
import { powerLawFit, timeMs } from "../../dist/timing";
import { mambaConfig, mambaParamCount } from "../../dist/mamba/config";
import { initMamba } from "../../dist/mamba/init";
import { mambaForward } from "../../dist/mamba/forward";
import { createMambaCache, mambaCacheBytes, mambaPrefill, mambaStep } from "../../dist/mamba/cache";
import type { MambaModel } from "../../dist/mamba/model";
import { llamaConfig, transformerParamCount } from "../../dist/transformer/config";
import { initTransformer } from "../../dist/transformer/init";
import type { TransformerModel } from "../../dist/transformer/model";
import { transformerForward } from "../../dist/transformer/forward";
import { transformerLossAndGrads } from "../../dist/transformer/grads";
import { mambaLossAndGrads } from "../../dist/mamba/grads";
import {
  type TransformerCache,
  createTransformerCache,
  transformerCacheBytes,
  transformerStep,
} from "../../dist/transformer/kv-cache";

const VOCAB = 32;
const D_MODEL = 64;
const LAYERS = 2;
const LENGTHS = [256, 512, 1024, 2048, 4096, 8192];
const POSITIONS = [64, 256, 1024, 4096, 8192];
const FIT_FROM = 1024;

/** A Transformer++ MLP width (multiple of 8) giving about `target` parameters in total. */
function matchedIntermediate(target: number): number {
  let best = 8;
  for (let inter = 8; inter <= 16 * D_MODEL; inter += 8) {
    const n = transformerParamCount(transformerConfig(inter));
    if (Math.abs(n - target) < Math.abs(transformerParamCount(transformerConfig(best)) - target)) {
      best = inter;
    }
  }
  return best;
}

function transformerConfig(intermediate: number) {
  return llamaConfig({
    vocab_size: VOCAB,
    hidden_size: D_MODEL,
    intermediate_size: intermediate,
    num_hidden_layers: LAYERS,
    num_attention_heads: 4,
    tie_word_embeddings: true,
  });
}

const randomIds = (rng: Rng, l: number): number[][] => [
  Array.from({ length: l }, () => rng.int(VOCAB)),
];

/** A KV cache at `position` holding random keys and values (see the module comment). */
function filledCache(model: TransformerModel, position: number, rng: Rng): TransformerCache {
  const cache = createTransformerCache(model, 1);
  const c = model.config;
  let capacity = cache.capacity;
  while (capacity < position + 1) capacity *= 2;
  const width = c.num_key_value_heads * c.head_dim;
  const fill = () => {
    const data = new Float32Array(capacity * width);
    for (let i = 0; i < data.length; i++) data[i] = rng.normal(0, 1);
    return { shape: [1, capacity, width], data };
  };
  cache.capacity = capacity;
  cache.layers = cache.layers.map(() => ({ k: fill(), v: fill(), length: position }));
  cache.position = position;
  return cache;
}

const fmt = (ms: number | null): string =>
  ms === null ? "skipped" : ms < 10 ? ms.toFixed(3) : ms.toFixed(1);
const bytes = (n: number): string =>
  n < 1024
    ? `${n} B`
    : n < 1 << 20
      ? `${(n / 1024).toFixed(1)} KiB`
      : `${(n / 2 ** 20).toFixed(2)} MiB`;

function main(): void {
  const budgetMs = 1000 * Number(process.env.MVT_BENCH_BUDGET_S ?? 20);
  const rng = new Rng(2312);
  const mcfg = mambaConfig({ vocab_size: VOCAB, hidden_size: D_MODEL, num_hidden_layers: LAYERS });
  const mamba: MambaModel = initMamba(mcfg, new Rng(1));
  const tcfg = transformerConfig(matchedIntermediate(mambaParamCount(mcfg)));
  const transformer = initTransformer(tcfg, new Rng(2));
  console.log(
    `Mamba: ${LAYERS} layers, d_model ${D_MODEL}, d_state ${mcfg.state_size}, expand ${mcfg.expand}: ${mambaParamCount(mcfg)} parameters.`,
  );
  console.log(
    `Transformer++: ${LAYERS} layers, d_model ${D_MODEL}, ${tcfg.num_attention_heads} heads of ${tcfg.head_dim}, MLP ${tcfg.intermediate_size}: ${transformerParamCount(tcfg)} parameters.`,
  );
  console.log(
    `Vocabulary ${VOCAB}, batch 1, float32, single-threaded CPU (Node ${process.version}); budget ${budgetMs / 1000} s per run (MVT_BENCH_BUDGET_S).\n`,
  );

  // 1. Forward time against length.
  console.log(
    "Forward pass (logits for every position), ms; ratio = Transformer / Mamba, both on engine typescript",
  );
  const cols = ["L", "mamba ts", "mamba simd", "transf. ts", "transf. simd", "T / M ts"];
  console.log(cols.map((c, i) => (i === 0 ? c.padEnd(8) : c.padStart(13))).join(""));
  const runs: Record<string, { x: number[]; y: number[]; last: number | null; exponent: number }> =
    {
      ref: { x: [], y: [], last: null, exponent: 1 },
      fast: { x: [], y: [], last: null, exponent: 1 },
      transformer: { x: [], y: [], last: null, exponent: 2 },
      transformerSimd: { x: [], y: [], last: null, exponent: 2 },
    };
  const timed = (key: string, l: number, fn: () => unknown): number | null => {
    const r = runs[key];
    // Lengths double: predict the next time from the growth between the last two lengths,
    // between linear and the model's asymptotic exponent.
    const n = r.y.length;
    const growth = n >= 2 ? Math.min(2 ** r.exponent, Math.max(2, r.y[n - 1] / r.y[n - 2])) : 2;
    const predicted = r.last === null ? 0 : r.last * growth;
    if (predicted > budgetMs) return null;
    const ms = predicted > 2000 ? once(fn) : timeMs(fn, { repeats: 2, minMs: 50 });
    r.x.push(l);
    r.y.push(ms);
    r.last = ms;
    return ms;
  };
  for (const l of LENGTHS) {
    const ids = randomIds(rng, l);
    const ref = timed("ref", l, () => mambaForward(mamba, ids, { engine: "typescript" }));
    const fast = timed("fast", l, () => mambaForward(mamba, ids, { engine: "simd" }));
    const tr = timed("transformer", l, () =>
      transformerForward(transformer, ids, { engine: "typescript" }),
    );
    const ts = timed("transformerSimd", l, () =>
      transformerForward(transformer, ids, { engine: "simd" }),
    );
    const ratio = tr !== null && ref !== null ? (tr / ref).toFixed(2) : "-";
    console.log(
      [
        String(l).padEnd(8),
        ...[ref, fast, tr, ts].map((v) => fmt(v).padStart(13)),
        ratio.padStart(13),
      ].join(""),
    );
  }
  for (const [key, label] of [
    ["ref", "Mamba (typescript)"],
    ["fast", "Mamba (simd)"],
    ["transformer", "Transformer++ (typescript)"],
    ["transformerSimd", "Transformer++ (simd)"],
  ] as const) {
    const fit = fittedExponent(runs[key]);
    console.log(`  fitted exponent, ${label}, L >= ${FIT_FROM}: ${fit}`);
  }

  // 2. Forward + backward against length.
  console.log(
    "\nForward + backward (loss and all gradients), ms, engines typescript and simd; ratios = Transformer / Mamba",
  );
  const bcols = [
    "L",
    "mamba ts",
    "transf. ts",
    "T / M ts",
    "mamba simd",
    "transf. simd",
    "T / M simd",
  ];
  console.log(bcols.map((c, i) => (i === 0 ? c.padEnd(8) : c.padStart(13))).join(""));
  runs.mambaTrain = { x: [], y: [], last: null, exponent: 1 };
  runs.transformerTrain = { x: [], y: [], last: null, exponent: 2 };
  runs.mambaTrainSimd = { x: [], y: [], last: null, exponent: 1 };
  runs.transformerTrainSimd = { x: [], y: [], last: null, exponent: 2 };
  const ratioOf = (t: number | null, m: number | null) =>
    t !== null && m !== null ? (t / m).toFixed(2) : "-";
  for (const l of LENGTHS) {
    const ids = randomIds(rng, l);
    const mt = timed("mambaTrain", l, () => mambaLossAndGrads(mamba, ids));
    const weightBytes = 8 * tcfg.num_attention_heads * l * l * LAYERS;
    const tt =
      weightBytes > 2 ** 29
        ? null
        : timed("transformerTrain", l, () => transformerLossAndGrads(transformer, ids));
    const ms = timed("mambaTrainSimd", l, () => mambaLossAndGrads(mamba, ids, { engine: "simd" }));
    const tsimd =
      weightBytes / 2 > 2 ** 29
        ? null
        : timed("transformerTrainSimd", l, () =>
            transformerLossAndGrads(transformer, ids, { engine: "simd" }),
          );
    console.log(
      [
        String(l).padEnd(8),
        ...[mt, tt].map((v) => fmt(v).padStart(13)),
        ratioOf(tt, mt).padStart(13),
        ...[ms, tsimd].map((v) => fmt(v).padStart(13)),
        ratioOf(tsimd, ms).padStart(13),
      ].join(""),
    );
  }
  for (const [key, label] of [
    ["mambaTrain", "Mamba (typescript)"],
    ["transformerTrain", "Transformer++ (typescript)"],
    ["mambaTrainSimd", "Mamba (simd)"],
    ["transformerTrainSimd", "Transformer++ (simd)"],
  ] as const) {
    const fit = fittedExponent(runs[key]);
    console.log(`  fitted exponent, forward + backward, ${label}, L >= ${FIT_FROM}: ${fit}`);
  }

  // 3. Decoding: per-token time and cache bytes against position.
  console.log(
    "\nDecoding one token at a position (ms per token; both on engine simd) and the cache it needs",
  );
  const dcols = ["position", "mamba ms", "mamba cache", "transf. ms", "KV cache", "T / M time"];
  console.log(dcols.map((c, i) => (i === 0 ? c.padEnd(10) : c.padStart(13))).join(""));
  let lastRatio = "";
  for (const p of POSITIONS) {
    const mcache = createMambaCache(mamba, 1);
    mambaPrefill(mamba, mcache, randomIds(rng, p), { engine: "simd" });
    const next = [rng.int(VOCAB)];
    const mMs = timeMs(() => mambaStep(mamba, mcache, next, { engine: "simd" }), {
      repeats: 3,
      minMs: 30,
    });
    const tcache = filledCache(transformer, p, rng);
    const tMs = timeMs(
      () => {
        tcache.position = p;
        for (const kv of tcache.layers) kv.length = p;
        transformerStep(transformer, tcache, next, { engine: "simd" });
      },
      { repeats: 3, minMs: 30 },
    );
    lastRatio = (tMs / mMs).toFixed(1);
    console.log(
      [
        String(p).padEnd(10),
        fmt(mMs).padStart(13),
        bytes(mambaCacheBytes(mcache)).padStart(13),
        fmt(tMs).padStart(13),
        bytes(transformerCacheBytes(tcfg, p)).padStart(13),
        lastRatio.padStart(13),
      ].join(""),
    );
  }
  console.log(
    `\nAt position ${POSITIONS[POSITIONS.length - 1]} a Transformer++ token costs ${lastRatio}x a Mamba token; Mamba's cache is the same at every position, the KV cache grows by ${bytes(transformerCacheBytes(tcfg, 1))} per token.`,
  );
}

/** The exponent p of time ≈ a·L^p over the measured lengths L >= FIT_FROM. */
function fittedExponent(r: { x: number[]; y: number[] }): string {
  const xs = r.x.filter((x) => x >= FIT_FROM);
  const ys = r.y.filter((_, i) => r.x[i] >= FIT_FROM);
  return xs.length >= 2 ? powerLawFit(xs, ys).exponent.toFixed(2) : "too few lengths";
}

/** One timed call (for runs too long to repeat), after no warm-up: the JIT is warm by then. */
function once(fn: () => unknown): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

main();
