/**
 * What the two training-step benchmarks (`bench/train.ts` for Mamba, `bench/transformer.ts` for
 * the Transformer++) share: one full step (loss and gradients with an engine, clipping at norm 1,
 * AdamW at 1e-3) and its timing, the best of a few steps after a warm-up, with the cores it got.
 *
 * Not a benchmark itself: it lives beside `bench/`, whose every file the bench runner runs.
 */
import type { Tensor } from "../dist/tensor";
import type { LossAndGrads } from "../dist/lm/loss";
import type { TrainEngine, TrainPool } from "../dist/ops/simd/threads";
import { adamwStep, clipGradNorm, createAdamW } from "../dist/train/optim";
import { bestOfSeconds } from "../dist/timing";

/**
 * How many steps each engine and each PyTorch model is timed for (the best is kept; the TypeScript
 * engine: 1). The VM these run on is shared: a best of 2 moved by 10-40% between runs.
 */
export const STEP_REPEATS = 5;

/** One engine's timed step: seconds per step, and CPU seconds (all threads) per wall second. */
export interface StepTiming {
  s: number;
  cpu: number;
}

/**
 * Times a full training step of `params` with `engine`: `lossAndGrads(options)` is the model's
 * loss function called with `{ engine }` (and the pool for "simd-threads"). Warm-up: one small
 * reference step (`warmUpTypescript`: the JIT) for "typescript", else `simdWarmUps` full steps
 * (the kernels, the arena's memory, and every worker thread's JIT); then the best of STEP_REPEATS (the
 * TypeScript engine: 1).
 */
export function timeTrainingStep(
  params: Map<string, Tensor>,
  engine: TrainEngine,
  pool: TrainPool,
  lossAndGrads: (options: { engine: TrainEngine; pool?: TrainPool }) => LossAndGrads,
  warmUpTypescript: () => void,
  simdWarmUps = 1,
): StepTiming {
  const state = createAdamW(params);
  const options = engine === "simd-threads" ? { engine, pool } : { engine };
  const step = (): void => {
    const { grads } = lossAndGrads(options);
    clipGradNorm(grads, 1);
    adamwStep(params, grads, state, { lr: 1e-3 });
  };
  if (engine === "typescript") warmUpTypescript();
  else for (let i = 0; i < simdWarmUps; i++) step();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const s = bestOfSeconds(engine === "typescript" ? 1 : STEP_REPEATS, step);
  const used = process.cpuUsage(c0);
  // CPU seconds (all threads) per wall second over the timed steps: the cores the run got
  return { s, cpu: (used.user + used.system) / 1e3 / (performance.now() - t0) };
}
