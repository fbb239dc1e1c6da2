/**
 * AdamW, clipGradNorm and learningRate (lib/src/train/optim.ts) against closed forms (a constant
 * gradient with decay, sign steps with β = 0), a scalar float64 transcription of the paper's
 * Algorithm 2, the global norm, and the linear warm-up and cosine schedule.
 */
import { describe, expect, it } from "vitest";
import {
  type Tensor,
  adamwStep,
  clipGradNorm,
  createAdamW,
  learningRate,
  noWeightDecay,
} from "../../../lib/src/index";

const vec = (values: number[]): Tensor => ({
  shape: [values.length],
  data: new Float64Array(values),
});

describe("AdamW", () => {
  it("constant gradient with weight decay follows the closed form θ_t = ρᵗθ₀ − c(1 − ρᵗ)/(ηλ)", () => {
    // With g constant, m̂ = g and v̂ = g² exactly at every t, so each step is
    // θ ← ρ θ − c with ρ = 1 − ηλ and c = η g / (|g| + ε): a geometric series.
    const lr = 0.01;
    const wd = 0.5;
    const eps = 1e-8;
    const g = [0.3, -2, 5e-3];
    const theta0 = [1, -0.5, 2];
    const params = new Map([["w", vec(theta0)]]);
    const grads = new Map([["w", vec(g)]]);
    const state = createAdamW(params);
    const steps = 50;
    for (let t = 0; t < steps; t++)
      adamwStep(params, grads, state, { lr, weightDecay: wd, eps, beta1: 0.9, beta2: 0.999 });
    const rho = 1 - lr * wd;
    g.forEach((gi, i) => {
      const c = (lr * gi) / (Math.abs(gi) + eps);
      const want = rho ** steps * theta0[i] - (c * (1 - rho ** steps)) / (lr * wd);
      expect(params.get("w")!.data[i]).toBeCloseTo(want, 12);
    });
    expect(state.step).toBe(steps);
  });

  it("on a quadratic ½a(θ − θ*)² with β₁ = β₂ = 0 it steps η·sign(g): θ_t = θ₀ − tη until it reaches θ*", () => {
    const params = new Map([["w", vec([3])]]);
    const state = createAdamW(params);
    const a = 4;
    const target = 1;
    const lr = 0.05;
    for (let t = 1; t <= 30; t++) {
      const th = params.get("w")!.data[0];
      adamwStep(params, new Map([["w", vec([a * (th - target)])]]), state, {
        lr,
        beta1: 0,
        beta2: 0,
        weightDecay: 0,
        eps: 1e-12,
      });
      expect(params.get("w")!.data[0]).toBeCloseTo(3 - t * lr, 10);
    }
  });

  it("on a quadratic matches a scalar float64 transcription of Algorithm 2 and skips decay on A_log, D, biases, norms", () => {
    const names = [
      "backbone.layers.0.mixer.in_proj.weight",
      "backbone.layers.0.mixer.A_log",
      "backbone.layers.0.mixer.D",
      "backbone.layers.0.mixer.conv1d.bias",
      "backbone.norm_f.weight",
      "backbone.layers.1.norm.weight",
    ];
    expect(names.map(noWeightDecay)).toEqual([false, true, true, true, true, true]);
    // Mamba-2: dt_bias and the gated norm's weight too
    expect(
      ["backbone.layers.0.mixer.dt_bias", "backbone.layers.0.mixer.norm.weight"].map(noWeightDecay),
    ).toEqual([true, true]);
    const params = new Map(names.map((n, i) => [n, vec([1 + i, -i])]));
    const state = createAdamW(params);
    const opts = { lr: 0.03, beta1: 0.8, beta2: 0.9, eps: 1e-6, weightDecay: 0.2 };
    const ref = names.map((_, i) => ({
      th: [1 + i, -i],
      m: [0, 0],
      v: [0, 0],
      wd: i === 0 ? 0.2 : 0,
    }));
    const curv = [2, 0.5];
    for (let t = 1; t <= 40; t++) {
      const grads = new Map(
        names.map((n) => [n, vec(Array.from(params.get(n)!.data, (x, j) => curv[j] * x))]),
      );
      adamwStep(params, grads, state, opts);
      for (const r of ref) {
        for (let j = 0; j < 2; j++) {
          const gj = curv[j] * r.th[j];
          r.m[j] = 0.8 * r.m[j] + 0.2 * gj;
          r.v[j] = 0.9 * r.v[j] + 0.1 * gj * gj;
          const mh = r.m[j] / (1 - 0.8 ** t);
          const vh = r.v[j] / (1 - 0.9 ** t);
          r.th[j] -= 0.03 * (mh / (Math.sqrt(vh) + 1e-6) + r.wd * r.th[j]);
        }
      }
    }
    names.forEach((n, i) => {
      expect(params.get(n)!.data[0]).toBeCloseTo(ref[i].th[0], 12);
      expect(params.get(n)!.data[1]).toBeCloseTo(ref[i].th[1], 12);
    });
  });

  it("refuses missing or mis-shaped gradients and bad options", () => {
    const params = new Map([["w", vec([1, 2])]]);
    const state = createAdamW(params);
    expect(() => adamwStep(params, new Map(), state, { lr: 0.1 })).toThrow(
      /adamwStep: argument 'grads' must be a Map holding a gradient for every parameter \(got none for "w"\)/,
    );
    expect(() => adamwStep(params, new Map([["w", vec([1])]]), state, { lr: 0.1 })).toThrow(
      /adamwStep: argument 'grads\["w"\]' must be a tensor of shape \[2\]/,
    );
    expect(() =>
      adamwStep(params, new Map([["w", vec([1, 1])]]), state, { lr: 0.1, beta1: 1 }),
    ).toThrow(/options.beta1/);
    expect(() =>
      adamwStep(params, new Map([["w", vec([1, 1])]]), state, { lr: 0.1, momentum: 1 } as never),
    ).toThrow(/unknown key "momentum"/);
    expect(() =>
      adamwStep(params, new Map([["w", vec([1, 1])]]), createAdamW(new Map()), { lr: 0.1 }),
    ).toThrow(
      /adamwStep: argument 'state' must be an AdamWState with moments for every parameter \(got none for "w"/,
    );
  });
});

describe("clipGradNorm and learningRate", () => {
  it("clips by the global norm over all tensors and returns the norm before clipping", () => {
    const grads = new Map([
      ["a", vec([3, 0])],
      ["b", vec([0, 4])],
    ]);
    expect(clipGradNorm(grads, 1)).toBeCloseTo(5, 14);
    expect(grads.get("a")!.data[0]).toBeCloseTo(0.6, 14);
    expect(grads.get("b")!.data[1]).toBeCloseTo(0.8, 14);
    expect(clipGradNorm(grads, 10)).toBeCloseTo(1, 14);
    expect(grads.get("b")!.data[1]).toBeCloseTo(0.8, 14);
    expect(() => clipGradNorm(grads, 0)).toThrow(/clipGradNorm: argument 'maxNorm'/);
  });

  it("warms up linearly, then follows the cosine down to minLr", () => {
    const s = { peakLr: 1e-3, warmupSteps: 10, totalSteps: 110, minLr: 1e-4 };
    expect(learningRate(0, s)).toBeCloseTo(1e-4, 15);
    expect(learningRate(9, s)).toBeCloseTo(1e-3, 15);
    expect(learningRate(10, s)).toBeCloseTo(1e-3, 15);
    expect(learningRate(60, s)).toBeCloseTo(5.5e-4, 15); // halfway: cos(π/2) = 0
    expect(learningRate(110, s)).toBeCloseTo(1e-4, 15);
    expect(learningRate(500, s)).toBeCloseTo(1e-4, 15);
    expect(() => learningRate(-1, s)).toThrow(/learningRate: argument 'step'/);
    expect(() => learningRate(0, { ...s, warmupSteps: 200 })).toThrow(/schedule.warmupSteps/);
  });
});
