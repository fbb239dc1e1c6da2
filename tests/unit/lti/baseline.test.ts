/**
 * The LTI token baseline (lib/src/lti/baseline.ts): fitLtiKernel satisfies the ridge normal
 * equations (the gradient, built densely here, vanishes on both solve paths) and solves plain but
 * not selective copying; ltiLogits is the causal convolution of the one-hot channels (causalConv)
 * and ltiPredict its arg-max.
 */
import { describe, expect, it } from "vitest";
import {
  Rng,
  causalConv,
  chanceAccuracy,
  copying,
  fitLtiKernel,
  ltiLogits,
  ltiPredict,
  selectiveCopying,
  tokenAccuracy,
} from "../../../lib/src/index";

describe("fitLtiKernel", () => {
  it("satisfies the ridge normal equations (primal S >= F and dual S < F paths): the gradient Φᵀ(ΦW - Y) + λW, built densely here, vanishes", () => {
    const V = 5;
    // [examples, kernel length, ridge]: S = 2·examples scored positions, F = 5·m features.
    for (const [count, m, ridge] of [
      [60, 9, 0.3],
      [60, 4, 1e-2],
      [8, 9, 0.3],
      [3, 9, 1e-3],
    ]) {
      const set = selectiveCopying(new Rng(count), {
        count,
        length: 7,
        numTokens: 2,
        vocabSize: 5,
      });
      const model = fitLtiKernel(set, { kernelLength: m, ridge });
      const K = model.kernel.data;
      // Dense design: one row per scored (example, position), one column per (lag, token).
      let worst = 0;
      let scale = 0;
      const grad = new Float64Array(m * V * V);
      for (let i = 0; i < set.count; i++) {
        for (let j = 0; j < set.targetLength; j++) {
          const t = set.targetStart + j;
          const phi = new Float64Array(m * V);
          for (let lag = 0; lag < m && lag <= t; lag++)
            phi[lag * V + set.inputs[i * set.inputLength + t - lag]] = 1;
          for (let out = 0; out < V; out++) {
            let pred = 0;
            for (let f = 0; f < m * V; f++)
              pred += phi[f] * K[(Math.floor(f / V) * V + out) * V + (f % V)];
            const r = pred - (set.targets[i * set.targetLength + j] === out ? 1 : 0);
            for (let f = 0; f < m * V; f++) grad[f * V + out] += phi[f] * r;
          }
        }
      }
      for (let f = 0; f < m * V; f++)
        for (let out = 0; out < V; out++) {
          const w = K[(Math.floor(f / V) * V + out) * V + (f % V)];
          const g = grad[f * V + out] + ridge * w;
          worst = Math.max(worst, Math.abs(g));
          scale = Math.max(scale, Math.abs(grad[f * V + out]), ridge * Math.abs(w));
        }
      expect(worst).toBeLessThan(1e-10 * Math.max(scale, 1));
    }
  });

  it("solves plain copying exactly (a fixed delay is an LTI kernel) but not selective copying", () => {
    const opts = { count: 300, length: 16, numTokens: 3, vocabSize: 8 };
    const train = copying(new Rng(2), opts);
    const test = copying(new Rng(3), opts);
    expect(tokenAccuracy(ltiPredict(fitLtiKernel(train), test), test)).toBe(1);
    const strain = selectiveCopying(new Rng(2), { ...opts, count: 1000 });
    const stest = selectiveCopying(new Rng(3), opts);
    const acc = tokenAccuracy(ltiPredict(fitLtiKernel(strain), stest), stest);
    expect(acc).toBeLessThan(0.75);
    expect(acc).toBeGreaterThan(chanceAccuracy(stest));
  });

  it("ltiLogits is the causal convolution of the one-hot channels (checked with causalConv), and ltiPredict its argmax", () => {
    const rng = new Rng(4);
    const set = selectiveCopying(rng, { count: 30, length: 9, numTokens: 2, vocabSize: 6 });
    const model = fitLtiKernel(set, { kernelLength: 6 });
    const [m, V] = [6, 6];
    const l = set.inputLength;
    const pred = ltiPredict(model, set);
    for (let i = 0; i < set.count; i++) {
      const tokens = set.inputs.subarray(i * l, (i + 1) * l);
      const logits = ltiLogits(model, tokens);
      expect(logits.shape).toEqual([l, V]);
      for (let out = 0; out < V; out++) {
        const want = new Float64Array(l);
        for (let inp = 0; inp < V; inp++) {
          const x = { shape: [l], data: Float64Array.from(tokens, (t) => (t === inp ? 1 : 0)) };
          const K = {
            shape: [m],
            data: Float64Array.from(
              { length: m },
              (_, j) => model.kernel.data[(j * V + out) * V + inp],
            ),
          };
          const y = causalConv(x, K).data;
          for (let t = 0; t < l; t++) want[t] += y[t];
        }
        for (let t = 0; t < l; t++) expect(logits.data[t * V + out]).toBeCloseTo(want[t], 12);
      }
      for (let j = 0; j < set.targetLength; j++) {
        const t = set.targetStart + j;
        const row = Array.from(logits.data.subarray(t * V, (t + 1) * V));
        expect(pred[i * set.targetLength + j]).toBe(row.indexOf(Math.max(...row)));
      }
    }
  });

  it("rejects bad options and inputs, naming them", () => {
    const set = selectiveCopying(new Rng(5), { count: 5, length: 6, numTokens: 2, vocabSize: 5 });
    expect(() => fitLtiKernel(set, { kernelLength: 9 })).toThrow(
      /fitLtiKernel: argument 'options.kernelLength' must be an integer in \[1, 8\]/,
    );
    expect(() => fitLtiKernel(set, { ridge: -1 })).toThrow(
      /fitLtiKernel: argument 'options.ridge' must be a positive finite number/,
    );
    expect(() => fitLtiKernel(set, { lambda: 1 } as never)).toThrow(
      /fitLtiKernel: argument 'options' must be .*\(got an unknown key "lambda"/,
    );
    expect(() => fitLtiKernel(set, { ridge: 0 })).toThrow(/fitLtiKernel: argument 'options.ridge'/);
    expect(() => fitLtiKernel({} as never)).toThrow(
      /fitLtiKernel: argument 'set' must be a task set/,
    );
    const model = fitLtiKernel(set);
    expect(() => ltiLogits(model, [0, 1, 7])).toThrow(
      /ltiLogits: argument 'tokens' must be token ids in \[0, 5\) \(got 7 at index 2/,
    );
    const other = selectiveCopying(new Rng(5), { count: 5, length: 6, numTokens: 2, vocabSize: 6 });
    expect(() => ltiPredict(model, other)).toThrow(
      /ltiPredict: argument 'set' must be a task set of vocabSize 5/,
    );
    expect(() => ltiPredict({ kernel: null } as never, set)).toThrow(
      /ltiPredict: argument 'model.kernel'/,
    );
  });
});
