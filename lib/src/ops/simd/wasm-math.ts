/**
 * Vector math for the WebAssembly SIMD kernels, written with the course's assembler
 * (`./wasm.ts`): exp and softplus four float32 lanes at a time, and `Locals`, which names a
 * function's locals and keeps its vector constants in locals set once at entry.
 *
 * exp(x) is computed as 2^k · e^f with k = round(x · log2 e) and f = x - k·ln 2 (Cody-Waite
 * splitting of ln 2), e^f by a degree-5 polynomial (relative error 2e-7 in float32 for
 * |f| <= ln2 / 2) and 2^k by writing k + 127 into the exponent bits. x is clamped to [-87, 88]
 * first, so the result is a normal float (e^-87 ≈ 1.6e-38 stands in for smaller values). The
 * rounding of k and the clamp use single-instruction SIMD operations only.
 *
 * Where log₂e can be folded into the argument beforehand (attention's prescaled keys, the scans'
 * A · log₂e), `exp2NonPositive4` computes 2^t for t ≤ 0 with no Cody-Waite step and one clamp: 19
 * vector operations instead of 24, its polynomial by Estrin's scheme, whose chain of dependent
 * operations is 10 long where Horner's is 15 (two more multiplies): a kernel's exponentials are
 * independent of each other, but the processor overlaps only so many long chains at once (the
 * scan forward ran 7% faster, the softmax 4%).
 */
import { type Code, type ConstantLocal, f4, i32, i4, local, v128 } from "./wasm";

const LOG2E = 1.4426950408889634;
const LN2_HI = 0.693359375;
const LN2_LO = -2.1219444e-4;
const LN2 = 0.6931471805599453;
/**
 * Coefficients of p (highest degree first) in e^f ≈ 1 + f + f²·p(f) for |f| <= ln2/2: a degree-5
 * fit minimising the relative error (1.1e-7; 2e-7 evaluated in float32).
 */
const EXP_POLY = [8.3127e-3, 4.189017e-2, 1.6667113e-1, 4.9999231e-1];

/**
 * Names locals in order after the parameters, and keeps vector constants in locals set once at
 * function entry from module globals (`constants`, for the function's {@link WasmFunction}), so
 * the loops do not rebuild them.
 */
export class Locals {
  readonly types: ("i32" | "f32" | "v128")[] = [];
  /** The constants used so far (the function's `constants`; filled as its body is built). */
  readonly constants: ConstantLocal[] = [];
  private readonly consts = new Map<string, ConstantLocal>();
  constructor(private readonly nParams: number) {}
  add(type: "i32" | "f32" | "v128"): number {
    this.types.push(type);
    return this.nParams + this.types.length - 1;
  }
  private konst(key: string, value: Code): Code {
    let c = this.consts.get(key);
    if (!c) {
      c = { local: this.add("v128"), value };
      this.consts.set(key, c);
      this.constants.push(c);
    }
    return local.get(c.local);
  }
  /** x in all four float32 lanes. */
  f(x: number): Code {
    return this.konst(`f${x}`, f4.const(x));
  }
  /** The bits n in all four int32 lanes. */
  i(n: number): Code {
    return this.konst(`i${n}`, v128.constI32(n));
  }
  /** The float32 lanes x₀ … x₃. */
  lanes(x: readonly [number, number, number, number]): Code {
    return this.konst(`lanes${x.join(",")}`, f4.lanes(x));
  }
}

export interface ExpTemps {
  x: number;
  k: number;
  p: number;
  x2: number;
  l: Locals;
}

export function expTemps(l: Locals): ExpTemps {
  return { x: l.add("v128"), k: l.add("v128"), p: l.add("v128"), x2: l.add("v128"), l };
}

/** Code that leaves exp(x) (four lanes) on the stack; x must not be NaN. */
export function exp4(x: Code, t: ExpTemps): Code {
  const g = local.get;
  // 1.5 · 2^23: adding it rounds a float in (-2^22, 2^22) to an integer held in the low mantissa bits
  const MAGIC = 12582912;
  const horner: Code[] = [local.set(t.p, t.l.f(EXP_POLY[0]))];
  for (let i = 1; i < EXP_POLY.length; i++) {
    horner.push(local.set(t.p, f4.add(f4.mul(g(t.p), g(t.x)), t.l.f(EXP_POLY[i]))));
  }
  return [
    // clamp (pmin/pmax are single instructions; min/max must also handle NaN and -0)
    local.set(t.x, f4.pmax(f4.pmin(x, t.l.f(88)), t.l.f(-87))),
    // k = round(x · log2 e): t.k holds k + MAGIC, whose low mantissa bits are k
    local.set(t.k, f4.add(f4.mul(g(t.x), t.l.f(LOG2E)), t.l.f(MAGIC))),
    // f = x - k·ln2 in two parts (Cody-Waite), |f| <= ln2 / 2
    local.set(t.p, f4.sub(g(t.k), t.l.f(MAGIC))),
    local.set(
      t.x,
      f4.sub(f4.sub(g(t.x), f4.mul(g(t.p), t.l.f(LN2_HI))), f4.mul(g(t.p), t.l.f(LN2_LO))),
    ),
    // e^f = 1 + f + f² · p(f)
    horner,
    local.set(t.p, f4.add(f4.add(f4.mul(g(t.p), f4.mul(g(t.x), g(t.x))), g(t.x)), t.l.f(1))),
    // times 2^k: shifting k + MAGIC's bits left by 23 leaves k in the exponent field
    f4.mul(g(t.p), i4.add(i4.shl(g(t.k), i32.const(23)), t.l.i(0x3f800000))),
  ];
}

/**
 * 2^f ≈ c₀ + c₁f + … + c₅f⁵ for |f| ≤ 1/2 (relative error 3.9e-7 evaluated in float32 as
 * {@link exp2NonPositive4} does, by Estrin's scheme).
 */
const EXP2_POLY = [
  1, 0.6931464672088623, 0.24022264778614044, 0.055516887456178665, 0.009668530896306038,
  0.0012915667612105608,
];

/**
 * Code that leaves 2^x (four lanes) on the stack for x ≤ 0, x clamped to −126 first (2^−126 is the
 * smallest normal float; what the callers multiply by it is lost to float32 rounding anyway):
 * 2^x = 2^k · 2^f with k = round(x), f = x − k exact, 2^f by {@link EXP2_POLY} and 2^k written
 * into the exponent bits. Positive x is not handled (the callers' arguments are a difference
 * from a maximum, or Δ · A with Δ ≥ 0 and A < 0).
 */
export function exp2NonPositive4(x: Code, t: ExpTemps): Code {
  const g = local.get;
  const MAGIC = 12582912; // as in exp4
  const c = (i: number): Code => t.l.f(EXP2_POLY[i]);
  /** c_i + c_{i+1} f */
  const pair = (i: number): Code => f4.add(c(i), f4.mul(c(i + 1), g(t.x)));
  return [
    local.set(t.x, f4.pmax(x, t.l.f(-126))),
    local.set(t.k, f4.add(g(t.x), t.l.f(MAGIC))),
    local.set(t.x, f4.sub(g(t.x), f4.sub(g(t.k), t.l.f(MAGIC)))),
    // Estrin's scheme: (c₀ + c₁f) + f²(c₂ + c₃f) + f⁴(c₄ + c₅f)
    local.set(t.x2, f4.mul(g(t.x), g(t.x))),
    local.set(
      t.p,
      f4.add(f4.add(pair(0), f4.mul(g(t.x2), pair(2))), f4.mul(f4.mul(g(t.x2), g(t.x2)), pair(4))),
    ),
    f4.mul(g(t.p), i4.add(i4.shl(g(t.k), i32.const(23)), t.l.i(0x3f800000))),
  ];
}

/** Code that leaves softplus(v) = log(1 + e^v) (identity above 20) on the stack; v is a local. */
export function softplus4(v: number, l: Locals, t: ExpTemps): Code {
  const g = local.get;
  const e = l.add("v128");
  const w = l.add("v128");
  const m = l.add("v128");
  const big = l.add("v128");
  const s = l.add("v128");
  const s2 = l.add("v128");
  const lw = l.add("v128");
  return [
    local.set(e, exp4(f4.pmin(g(v), l.f(20)), t)),
    local.set(w, f4.add(g(e), l.f(1))),
    // w = m · 2^ex with m in [1, 2): exponent and mantissa from the bits
    local.set(m, v128.or(v128.and(g(w), l.i(0x007fffff)), l.i(0x3f800000))),
    local.set(big, f4.gt(g(m), l.f(Math.SQRT2))),
    local.set(m, v128.bitselect(f4.mul(g(m), l.f(0.5)), g(m), g(big))),
    // lw = ex · ln2 (ex + 1 where m was halved)
    local.set(
      lw,
      f4.mul(
        f4.add(f4.fromI4(i4.sub(i4.shrU(g(w), i32.const(23)), l.i(127))), v128.and(g(big), l.f(1))),
        l.f(LN2),
      ),
    ),
    // log m = 2 artanh(s), s = (m - 1) / (m + 1), |s| <= 0.172
    local.set(s, f4.div(f4.sub(g(m), l.f(1)), f4.add(g(m), l.f(1)))),
    local.set(s2, f4.mul(g(s), g(s))),
    local.set(
      lw,
      f4.add(
        g(lw),
        f4.mul(
          f4.mul(l.f(2), g(s)),
          f4.add(
            l.f(1),
            f4.mul(
              g(s2),
              f4.add(
                l.f(1 / 3),
                f4.mul(
                  g(s2),
                  f4.add(l.f(1 / 5), f4.mul(g(s2), f4.add(l.f(1 / 7), f4.mul(g(s2), l.f(1 / 9))))),
                ),
              ),
            ),
          ),
        ),
      ),
    ),
    // tiny e: log(1 + e) = e - e²/2 + e³/3 (1 + e would round e away)
    local.set(
      lw,
      v128.bitselect(
        f4.mul(g(e), f4.sub(l.f(1), f4.mul(g(e), f4.sub(l.f(0.5), f4.mul(g(e), l.f(1 / 3)))))),
        g(lw),
        f4.lt(g(e), l.f(1 / 128)),
      ),
    ),
    v128.bitselect(g(v), g(lw), f4.gt(g(v), l.f(20))),
  ];
}
