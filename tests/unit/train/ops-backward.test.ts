/**
 * The op backwards of lib/src/train/ops-backward.ts (linear, RMSNorm, causal conv, embedding, SiLU,
 * softplus, cross-entropy) against central finite differences of forwards written here in float64.
 */
import { describe, expect, it } from "vitest";
import {
  Rng,
  type Tensor,
  causalDepthwiseConv1dBackward,
  crossEntropy,
  embeddingBackward,
  linearBackward,
  rmsNormBackward,
  siluBackward,
  softplusBackward,
} from "../../../lib/src/index";

// Forward references written here from the equations (float64), differentiated numerically.
const linearRef = (x: Tensor, w: Tensor, b: Tensor) => {
  const [o, i] = w.shape;
  const rows = x.data.length / i;
  const y = new Float64Array(rows * o);
  for (let r = 0; r < rows; r++)
    for (let a = 0; a < o; a++) {
      let s = b.data[a];
      for (let c = 0; c < i; c++) s += x.data[r * i + c] * w.data[a * i + c];
      y[r * o + a] = s;
    }
  return y;
};
const rmsRef = (x: Tensor, w: Tensor, eps: number) => {
  const d = w.data.length;
  const y = new Float64Array(x.data.length);
  for (let r = 0; r < x.data.length / d; r++) {
    const row = Array.from(x.data.slice(r * d, (r + 1) * d));
    const rms = Math.sqrt(row.reduce((s, v) => s + v * v, 0) / d + eps);
    row.forEach((v, j) => (y[r * d + j] = (v / rms) * w.data[j]));
  }
  return y;
};
const convRef = (x: Tensor, w: Tensor, bias: Tensor) => {
  const [B, D, L] = x.shape;
  const k = w.shape[2];
  const y = new Float64Array(x.data.length);
  for (let b = 0; b < B; b++)
    for (let c = 0; c < D; c++)
      for (let t = 0; t < L; t++) {
        let s = bias.data[c];
        for (let j = 0; j < k; j++) {
          const src = t - (k - 1) + j;
          if (src >= 0) s += w.data[c * k + j] * x.data[(b * D + c) * L + src];
        }
        y[(b * D + c) * L + t] = s;
      }
  return y;
};

/** ∂(Σ f(·)·g)/∂t by central differences, step 1e-6. */
function fd(t: Tensor, f: () => ArrayLike<number>, g: Tensor): Float64Array {
  const out = new Float64Array(t.data.length);
  const dot = () => {
    const y = f();
    let s = 0;
    for (let i = 0; i < g.data.length; i++) s += y[i] * g.data[i];
    return s;
  };
  for (let i = 0; i < t.data.length; i++) {
    const keep = t.data[i];
    t.data[i] = keep + 1e-6;
    const up = dot();
    t.data[i] = keep - 1e-6;
    const down = dot();
    t.data[i] = keep;
    out[i] = (up - down) / 2e-6;
  }
  return out;
}
function close(got: Tensor, want: Float64Array, tol = 1e-7) {
  const scale = Math.max(1, ...Array.from(want, Math.abs));
  for (let i = 0; i < want.length; i++)
    expect(Math.abs(got.data[i] - want[i]), `index ${i}`).toBeLessThan(tol * scale);
}

describe("op backwards against central finite differences (float64)", () => {
  const rng = new Rng(10);
  it("linearBackward: dx, dweight, dbias", () => {
    const x = rng.randn([2, 3, 5]);
    const w = rng.randn([4, 5]);
    const b = rng.randn([4]);
    const g = rng.randn([2, 3, 4]);
    const r = linearBackward(x, w, g, true);
    close(
      r.dx,
      fd(x, () => linearRef(x, w, b), g),
    );
    close(
      r.dweight,
      fd(w, () => linearRef(x, w, b), g),
    );
    close(
      r.dbias!,
      fd(b, () => linearRef(x, w, b), g),
    );
    expect(linearBackward(x, w, g).dbias).toBeUndefined();
  });
  it("rmsNormBackward: dx, dweight", () => {
    const x = rng.randn([3, 6]);
    const w = rng.randn([6]);
    const g = rng.randn([3, 6]);
    const r = rmsNormBackward(x, w, 1e-5, g);
    close(
      r.dx,
      fd(x, () => rmsRef(x, w, 1e-5), g),
    );
    close(
      r.dweight,
      fd(w, () => rmsRef(x, w, 1e-5), g),
    );
  });
  it("causalDepthwiseConv1dBackward: dx, dweight, dbias (k = 4 > some positions)", () => {
    const x = rng.randn([2, 3, 6]);
    const w = rng.randn([3, 1, 4]);
    const b = rng.randn([3]);
    const g = rng.randn([2, 3, 6]);
    const r = causalDepthwiseConv1dBackward(x, w, g, true);
    close(
      r.dx,
      fd(x, () => convRef(x, w, b), g),
    );
    close(
      r.dweight,
      fd(w, () => convRef(x, w, b), g),
    );
    close(
      r.dbias!,
      fd(b, () => convRef(x, w, b), g),
    );
  });
  it("embeddingBackward scatters rows; siluBackward and softplusBackward", () => {
    const ids = new Int32Array([2, 0, 2, 1]);
    const g = rng.randn([1, 4, 3]);
    const dw = embeddingBackward(ids, 4, g);
    expect(dw.shape).toEqual([4, 3]);
    for (let j = 0; j < 3; j++) {
      expect(dw.data[2 * 3 + j]).toBeCloseTo(g.data[j] + g.data[2 * 3 + j], 14);
      expect(dw.data[3 * 3 + j]).toBe(0);
    }
    const x = rng.randn([7], 3);
    const gy = rng.randn([7]);
    close(
      siluBackward(x, gy),
      fd(x, () => Array.from(x.data, (v) => v / (1 + Math.exp(-v))), gy),
    );
    close(
      softplusBackward(x, gy),
      fd(x, () => Array.from(x.data, (v) => Math.log(1 + Math.exp(v))), gy),
    );
  });
  it("crossEntropy: loss is the masked mean of −log p[target]; dlogits matches finite differences", () => {
    const logits = rng.randn([2, 3, 5], 2);
    const targets = new Int32Array([1, 4, 0, -100, 2, 3]);
    const mask = [1, 0, 1, 1, 1, 1];
    const lossOf = () => {
      let s = 0;
      let n = 0;
      for (let p = 0; p < 6; p++) {
        if (targets[p] === -100 || mask[p] === 0) continue;
        const row = Array.from(logits.data.slice(p * 5, p * 5 + 5));
        s += -Math.log(Math.exp(row[targets[p]]) / row.reduce((a, v) => a + Math.exp(v), 0));
        n++;
      }
      return s / n;
    };
    const r = crossEntropy(logits, targets, mask);
    expect(r.loss).toBeCloseTo(lossOf(), 12);
    expect(r.count).toBe(4);
    close(
      r.dlogits,
      fd(logits, () => [lossOf()], { shape: [1], data: new Float64Array([1]) }),
    );
    expect(() => crossEntropy(logits, new Int32Array(5))).toThrow(
      /crossEntropy: argument 'targets' must be an Int32Array of 6/,
    );
    expect(() => crossEntropy(logits, new Int32Array(6).fill(9))).toThrow(/got 9 at position 0/);
    expect(() => crossEntropy(logits, targets, [0, 0, 0, 0, 0, 0])).toThrow(
      /crossEntropy: argument 'mask' must be a mask that counts at least one position \(got every position masked or ignored\)/,
    );
  });
  it("refuses mismatched gradients, naming the function", () => {
    expect(() => linearBackward(rng.randn([2, 5]), rng.randn([4, 5]), rng.randn([2, 3]))).toThrow(
      /linearBackward: argument 'g' must be a tensor of shape \[2, 4\]/,
    );
    expect(() =>
      rmsNormBackward(rng.randn([2, 5]), rng.randn([4]), 1e-5, rng.randn([2, 5])),
    ).toThrow(/rmsNormBackward: argument 'weight'/);
  });
});
