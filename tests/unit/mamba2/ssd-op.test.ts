/**
 * The reference backend's SSD op (lib/src/ops/reference/ssd.ts, Mamba-2's mixer core): forward
 * against a float64 recurrence written here from transformers' `Mamba2Mixer` equations (Δ =
 * clamp(softplus(dt + dt_bias)), h_t = exp(ΔA) h + Δ x Bᵀ, y = h C + D x), decoding with a state
 * equal to the whole sequence, and every gradient through `Ops` + `Tape` against central finite
 * differences of that recurrence.
 */
import { describe, expect, it } from "vitest";
import { Rng, type Tensor } from "../../../lib/src/index";
import { Ops, Tape } from "../../../lib/src/ops/tape";
import { reference } from "../../../lib/src/ops/reference/index";
import type { SsdArgs } from "../../../lib/src/ops/backend";

interface Sizes {
  b: number;
  l: number;
  H: number;
  P: number;
  G: number;
  N: number;
  Q: number;
  limit: [number, number];
}

function args(rng: Rng, s: Sizes): SsdArgs {
  const A = rng.randn([s.H]);
  A.data.forEach((_, i) => (A.data[i] = -Math.exp(0.5 * rng.normal())));
  return {
    x: rng.randn([s.b, s.l, s.H * s.P]),
    dt: rng.randn([s.b, s.l, s.H]),
    A,
    B: rng.randn([s.b, s.l, s.G * s.N]),
    C: rng.randn([s.b, s.l, s.G * s.N]),
    D: rng.randn([s.H]),
    dtBias: rng.randn([s.H], 0.5),
    groups: s.G,
    dtLimit: s.limit,
    chunkSize: s.Q,
  };
}

/** The SSD op's output from the equations, position by position (float64). */
function ssdRef(a: SsdArgs, s: Sizes): Float64Array {
  const y = new Float64Array(a.x.data.length);
  const sp = (v: number) => Math.log1p(Math.exp(v));
  for (let b = 0; b < s.b; b++)
    for (let h = 0; h < s.H; h++) {
      const g = Math.floor(h / (s.H / s.G));
      const st = new Float64Array(s.P * s.N);
      for (let t = 0; t < s.l; t++) {
        const row = b * s.l + t;
        const delta = Math.min(
          Math.max(sp(a.dt.data[row * s.H + h] + a.dtBias.data[h]), s.limit[0]),
          s.limit[1],
        );
        const decay = Math.exp(delta * a.A.data[h]);
        for (let p = 0; p < s.P; p++) {
          const x = a.x.data[row * s.H * s.P + h * s.P + p];
          let acc = a.D.data[h] * x;
          for (let n = 0; n < s.N; n++) {
            const k = row * s.G * s.N + g * s.N + n;
            st[p * s.N + n] = decay * st[p * s.N + n] + delta * x * a.B.data[k];
            acc += st[p * s.N + n] * a.C.data[k];
          }
          y[row * s.H * s.P + h * s.P + p] = acc;
        }
      }
    }
  return y;
}

const CASES: Sizes[] = [
  { b: 2, l: 7, H: 2, P: 2, G: 1, N: 3, Q: 3, limit: [0, Infinity] },
  { b: 1, l: 9, H: 4, P: 1, G: 2, N: 2, Q: 4, limit: [0.3, 1.2] }, // the clamp cuts some Δ
];

describe("the SSD op", () => {
  for (const s of CASES) {
    it(`forward equals the recurrence (H=${s.H}, G=${s.G}, Q=${s.Q}, limit ${s.limit})`, () => {
      const a = args(new Rng(1), s);
      const y = reference.ssd!(a, null);
      const want = ssdRef(a, s);
      for (let i = 0; i < want.length; i++) expect(y.data[i]).toBeCloseTo(want[i], 12);
    });

    it(`gradients equal central finite differences (H=${s.H}, G=${s.G}, limit ${s.limit})`, () => {
      const rng = new Rng(2);
      const a = args(rng, s);
      const g = rng.randn(a.x.shape);
      const tape = new Tape(reference, { strategy: "store-all", chunkSize: 4 });
      const ops = new Ops(reference, tape);
      const y = ops.ssd(a, null);
      tape.backward(y, g);
      const loss = () => {
        const yy = ssdRef(a, s);
        let sum = 0;
        for (let i = 0; i < yy.length; i++) sum += yy[i] * g.data[i];
        return sum;
      };
      let checked = 0;
      for (const name of ["x", "dt", "A", "B", "C", "D", "dtBias"] as const) {
        const t: Tensor = a[name];
        const got = tape.grad(t)!;
        expect(got.shape).toEqual(t.shape);
        for (let i = 0; i < t.data.length; i++) {
          const keep = t.data[i];
          t.data[i] = keep + 1e-6;
          const up = loss();
          t.data[i] = keep - 1e-6;
          const down = loss();
          t.data[i] = keep;
          const want = (up - down) / 2e-6;
          expect(Math.abs(got.data[i] - want)).toBeLessThan(1e-6 * Math.max(1, Math.abs(want)));
          checked++;
        }
      }
      expect(checked).toBeGreaterThan(50);
    });
  }

  it("decoding one position at a time with a state equals the whole sequence", () => {
    const s = CASES[1];
    const a = args(new Rng(3), s);
    const whole = reference.ssd!(a, null);
    const state: Tensor = {
      shape: [s.b, s.H, s.P, s.N],
      data: new Float64Array(s.b * s.H * s.P * s.N),
    };
    const per = (t: Tensor, l: number) => {
      const w = t.data.length / s.l;
      return { shape: [1, 1, t.shape[2]], data: t.data.slice(l * w, (l + 1) * w) };
    };
    for (let l = 0; l < s.l; l++) {
      const step = reference.ssd!(
        { ...a, x: per(a.x, l), dt: per(a.dt, l), B: per(a.B, l), C: per(a.C, l) },
        state,
      );
      const w = a.x.data.length / s.l;
      for (let i = 0; i < w; i++) expect(step.data[i]).toBeCloseTo(whole.data[l * w + i], 12);
    }
  });

  it("Ops.ssd refuses a backend without the op", () => {
    const bare = { ...reference, name: "bare", ssd: undefined, ssdBackward: undefined };
    const a = args(new Rng(4), CASES[0]);
    expect(() => new Ops(bare).ssd(a, null)).toThrow(/Ops.ssd: the bare backend has no SSD op/);
  });
});
