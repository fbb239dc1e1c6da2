/**
 * Benchmark: one full training step (forward, loss, backward, clipping, AdamW) of the Table 1
 * model (2 layers, d_model 64, N 16, vocabulary 16) at batch 32 × 256 tokens and 8 × 1024, with
 * the plain TypeScript engine (lib/src/train). Baseline of the ratio column: the forward pass
 * alone (mambaVariantForward) of the same batch, measured in the same run; the scan's two backward
 * strategies (chunked recompute, store-all) are both timed.
 *
 * FLOPs per token are counted from the shapes (2 per multiply-add): the projections forward
 * (in_proj, x_proj, dt_proj, out_proj, head), times 3 for forward + backward (the backward of
 * y = xWᵀ costs two products of the same size), plus the conv and the scan (forward ≈ 7·E·N per
 * token, backward with recomputation ≈ 20·E·N).
 *
 * Run: `npm run bench -- train` (after `npm run build`). Each configuration is timed once (a step
 * takes seconds); run on an idle machine.
 */
import { Rng } from "../../dist/rng";
import { initMamba } from "../../dist/mamba/init";
import { mambaLossAndGrads, mambaVariantForward } from "../../dist/train/mamba-grads";
import { adamwStep, clipGradNorm, createAdamW } from "../../dist/train/optim";
import type { ScanBackwardStrategy } from "../../dist/train/scan-backward";

const CONFIG = { vocab_size: 16, hidden_size: 64, num_hidden_layers: 2, state_size: 16 };

function flopsPerToken(): number {
  const d = 64;
  const E = 128;
  const N = 16;
  const R = 4;
  const V = 16;
  const k = 4;
  const proj = 2 * (d * 2 * E + E * (R + 2 * N) + R * E + E * d);
  const perLayer = 3 * proj + 3 * 2 * E * k + 7 * E * N + 20 * E * N;
  return CONFIG.num_hidden_layers * perLayer + 3 * 2 * d * V;
}

function main(): void {
  const model = initMamba(CONFIG, new Rng(0));
  const state = createAdamW(model.params);
  const rng = new Rng(1);
  const batch = (b: number, l: number) => ({
    shape: [b, l],
    data: Int32Array.from({ length: b * l }, () => rng.int(16)),
  });
  // Warm up the JIT on a small batch.
  mambaLossAndGrads(model, batch(2, 64));
  const fpt = flopsPerToken();
  console.log(
    `Table 1 model (d_model 64, 2 layers, N 16, vocab 16), Node ${process.version}, one thread.`,
  );
  console.log(
    `FLOPs per token of a training step (counted from the shapes): ${(fpt / 1e6).toFixed(2)} M\n`,
  );
  console.log(
    "batch × L    engine / scan backward     step s   tokens/s   GFLOP/s   step / forward",
  );
  for (const [b, l] of [
    [32, 256],
    [8, 1024],
  ]) {
    const tokens = batch(b, l);
    let t0 = performance.now();
    mambaVariantForward(model, tokens);
    const forwardS = (performance.now() - t0) / 1000;
    for (const strategy of ["recompute", "store-all"] as ScanBackwardStrategy[]) {
      t0 = performance.now();
      const { grads } = mambaLossAndGrads(model, tokens, { scanStrategy: strategy });
      clipGradNorm(grads, 1);
      adamwStep(model.params, grads, state, { lr: 1e-3 });
      const s = (performance.now() - t0) / 1000;
      const n = b * l;
      console.log(
        `${`${b} × ${l}`.padEnd(12)} ${`typescript / ${strategy}`.padEnd(26)} ${s.toFixed(2).padStart(6)} ${Math.round(
          n / s,
        )
          .toString()
          .padStart(
            10,
          )} ${((fpt * n) / s / 1e9).toFixed(2).padStart(9)} ${(s / forwardS).toFixed(2).padStart(16)}`,
      );
    }
  }
}

main();
