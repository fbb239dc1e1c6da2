/**
 * The WebAssembly SIMD kernels of inference (`./infer.ts`): the products with weights read where
 * they lie, in PyTorch's (out, in) layout and in float32, bfloat16 or float16, and the causal
 * conv and selective scan that continue from a decoding state. Written with the course's
 * assembler (`./wasm.ts`) like `./kernels.ts`; byte addresses into one shared
 * memory, strides in elements, float32 activations, row-major.
 *
 * Two modules:
 * - {@link matmulModuleBytes}: what depends on no model size.
 *   - `linF32(M, N, K, pX, ldx, pW, pY, ldy, n0, n1)`: Y[m, n] = Σ_k X[m, k] W[n, k] for all
 *     m < M and the rows n0 ≤ n < n1 of W (N, K) (a thread's share): `F.linear` without bias.
 *     A weight row is read as vectors along k (a dot product per output, its four lanes summed
 *     at the end), so W needs no transposed copy. Register blocks of 2 positions × 4 rows: the
 *     product of many positions (a prompt), bound by arithmetic.
 *   - `linBf16(..., pScr)`, `linF16(..., pScr)`: the same with W in 16-bit floats, eight rows at
 *     a time widened to float32 into scratch and multiplied by `linF32`: a bfloat16 is the top
 *     half of a float32 (zero-extend, shift left by 16); a float16's exponent and mantissa are
 *     moved into float32's fields and scaled by 2^112 (exact for normal and subnormal values).
 *   - `mvF32`, `mvBf16`, `mvF16` (the arguments of `linF32`): the product for a few positions (a
 *     decoding step), bound by memory: one weight row at a time streamed into four independent
 *     accumulators. The 16-bit ones widen in registers: one vector load brings eight weights,
 *     whose even elements become float32 by a shift left of 16 bits and odd ones by masking the
 *     low half (float16 then rescaled as above); X must first go through `permute8`, which lays
 *     out each group of eight inputs as its even then its odd elements, so the widened weights
 *     meet their inputs without shuffling the (much larger) weight stream.
 *   - `permute8(M, K, pX, ldx, pXp)`: that layout (rows of K, the last K mod 8 values as they
 *     are).
 *   - `negExp(pX, pY, q0, q1)`: y = −exp(x) over the vectors q0 … q1 − 1 (A = −exp(A_log)).
 *   - `differs(n, pA, pB, pOut)`: whether two arrays of n values differ in any bit (1 or 0 at
 *     pOut).
 * - {@link convModuleBytes}(k) and {@link scanStateModuleBytes}(N), for conv width k and state
 *   size N, over channels in groups of four (one vector), token-major activations (L, E) of one
 *   sequence:
 *   - `convState(L, pX, ldx, pW, pBias, hasBias, pS, pY, ldy, g0, g1)`: the causal depthwise
 *     conv continuing from the state S (E, k) of the last k inputs (oldest first, `Mamba.step`'s
 *     conv_state), leaving S at the last k inputs; weight (E, k) as `conv1d.weight` holds it.
 *   - `scanState(L, ld, pRaw, pBias, pA, pB, pC, pU, pZ, hasZ, pD, pY, pH, pScr, g0, g1)`: the
 *     selective scan continuing from h (E, N) and leaving h at the last position (the equations
 *     of `./kernels.ts` scanFwd, nothing kept for a backward pass); A (E, N) as −exp(A_log);
 *     B, C (L, N); raw (Δ before bias and softplus), u, z, y (L, E) with row stride ld.
 *     `scanStateLti`: B and C (E, N), the same at every position.
 *   - `scanStep(...)`, `scanStepLti(...)`: the same for one position, vectorised over the state.
 *   Groups g0 ≤ g < g1 (channels 4g … 4g + 3): a thread's share. A, B, C and h are read and
 *   written in their (E, ·) layouts with one scalar load or store per lane, once per group.
 */
import {
  type Code,
  type ModuleMemory,
  type WasmFunction,
  assembleModule,
  control,
  f32,
  f4,
  g,
  i32,
  i4,
  inc,
  set,
  v128,
} from "./wasm";
import { Locals, exp2NonPositive4, exp4, expTemps, softplus4 } from "./wasm-math";
import { laneSum, sigmoid4, softplusRows } from "./kernels";

/** How a weight matrix is stored. */
export type WeightFormat = "f32" | "bf16" | "f16";

/** Bytes per weight. */
export function weightBytes(format: WeightFormat): number {
  return format === "f32" ? 4 : 2;
}

/** The register block of `linF32`: positions × weight rows. */
const BLOCK = { MR: 2, NR: 4 };
/**
 * Bytes of X rows `linF32` runs against its weight rows before moving to the next positions: a
 * block that stays in the core's L2 cache (1 MiB here) while every block of weight rows streams
 * past it.
 */
const X_BLOCK_BYTES = 256 << 10;

/** Weight rows a 16-bit product widens at a time (into float32 scratch, then `linF32`). */
export const WIDEN_ROWS = 8;

/** 2^112 as float32: scales a float16's fields, moved into float32's, to its value. */
const F16_SCALE = 2 ** 112;

/** A float16 held in the top 16 bits of each lane of t (a local), as float32 (code on the stack). */
function f16FromTop(l: Locals, t: number): Code {
  // sign at bit 31, exponent and mantissa at bits 16-30 → shifted to bits 13-27, scaled by 2^112
  return v128.or(
    v128.and(g(t), l.i(-2147483648)),
    f4.mul(i4.shrU(v128.and(g(t), l.i(0x7fff0000)), i32.const(3)), l.f(F16_SCALE)),
  );
}

/**
 * The even and odd elements of eight 16-bit weights in v (local), as two float32 vectors (code
 * leaving the vector on the stack); t is a scratch local.
 */
function widen(format: "bf16" | "f16", l: Locals, v: number, t: number, odd: boolean): Code {
  // the weight in the top 16 bits of each 32-bit lane
  const top = odd ? v128.and(g(v), l.i(-65536)) : i4.shl(g(v), i32.const(16));
  if (format === "bf16") return top;
  return [set(t, top), f16FromTop(l, t)];
}

/** One weight as float32 from the address `addr` (scalar tails). */
function weightScalar(format: WeightFormat, addr: Code): Code {
  if (format === "f32") return f32.load(addr);
  const top = i32.shl(i32.load16U(addr), i32.const(16));
  if (format === "bf16") return f32.reinterpretI32(top);
  return f32.copysign(
    f32.mul(
      f32.reinterpretI32(i32.shrU(i32.and(top, i32.const(0x7fff0000)), i32.const(3))),
      f32.const(F16_SCALE),
    ),
    f32.reinterpretI32(top),
  );
}

/** `linF32` (see the module comment). Function 0 of the module: the 16-bit products call it. */
function linearFunction(): WasmFunction {
  const l = new Locals(10);
  const [M, N, K, pX, ldx, pW, pY, ldy, n0, n1] = Array.from({ length: 10 }, (_, i) => i);
  void N;
  const { MR, NR } = BLOCK;
  const i32s = (n: number) => Array.from({ length: n }, () => l.add("i32"));
  const [m, n, xEnd, xTail, kvB, tailB, rowW, mb0, mb1, mbStep] = i32s(10);
  const px = i32s(MR);
  const pw = i32s(NR);
  const acc = Array.from({ length: MR * NR }, () => l.add("v128"));
  const sums = Array.from({ length: MR * NR }, () => l.add("f32"));
  const xv = Array.from({ length: MR }, () => l.add("v128"));
  const wv = l.add("v128");
  const xs = l.add("f32");

  const tile = (mr: number, nr: number): Code => {
    const a = (i: number, j: number) => acc[i * NR + j];
    const s = (i: number, j: number) => sums[i * NR + j];
    const body: Code[] = [];
    for (let i = 0; i < mr; i++) body.push(set(xv[i], v128.load(g(px[i]))));
    for (let j = 0; j < nr; j++) {
      body.push(set(wv, v128.load(g(pw[j]))));
      for (let i = 0; i < mr; i++)
        body.push(set(a(i, j), f4.add(g(a(i, j)), f4.mul(g(xv[i]), g(wv)))));
    }
    for (let i = 0; i < mr; i++) body.push(inc(px[i], i32.const(16)));
    for (let j = 0; j < nr; j++) body.push(inc(pw[j], i32.const(16)));
    const tail: Code[] = [];
    for (let i = 0; i < mr; i++) {
      tail.push(set(xs, f32.load(g(px[i]))));
      for (let j = 0; j < nr; j++)
        tail.push(set(s(i, j), f32.add(g(s(i, j)), f32.mul(g(xs), f32.load(g(pw[j]))))));
    }
    for (let i = 0; i < mr; i++) tail.push(inc(px[i], i32.const(4)));
    for (let j = 0; j < nr; j++) tail.push(inc(pw[j], i32.const(4)));
    const stores: Code[] = [];
    for (let i = 0; i < mr; i++)
      for (let j = 0; j < nr; j++) {
        stores.push(
          f32.store(
            i32.add(
              g(pY),
              i32.shl(
                i32.add(i32.mul(i32.add(g(m), i32.const(i)), g(ldy)), i32.add(g(n), i32.const(j))),
                i32.const(2),
              ),
            ),
            g(s(i, j)),
          ),
        );
      }
    return [
      Array.from({ length: mr }, (_, i) =>
        set(
          px[i],
          i32.add(g(pX), i32.shl(i32.mul(i32.add(g(m), i32.const(i)), g(ldx)), i32.const(2))),
        ),
      ),
      Array.from({ length: nr }, (_, j) =>
        set(pw[j], i32.add(g(pW), i32.mul(i32.add(g(n), i32.const(j)), g(rowW)))),
      ),
      Array.from({ length: mr }, (_, i) =>
        Array.from({ length: nr }, (_, j) => set(a(i, j), l.f(0))),
      ),
      set(xEnd, i32.add(g(px[0]), g(kvB))),
      control.while(i32.ltU(g(px[0]), g(xEnd)), body),
      Array.from({ length: mr }, (_, i) =>
        Array.from({ length: nr }, (_, j) => set(s(i, j), laneSum(g(a(i, j))))),
      ),
      // the last K mod 4 values, one at a time
      set(xTail, i32.add(g(xEnd), g(tailB))),
      control.while(i32.ltU(g(px[0]), g(xTail)), tail),
      stores,
      inc(m, i32.const(mr)),
    ];
  };
  // positions mb0 ≤ m < mb1 (a block whose rows of X stay in cache) against rows n of W
  const rowsOf = (nr: number): Code => [
    set(m, g(mb0)),
    control.while(i32.leS(i32.add(g(m), i32.const(MR)), g(mb1)), tile(MR, nr)),
    control.while(i32.ltS(g(m), g(mb1)), tile(1, nr)),
    inc(n, i32.const(nr)),
  ];
  const main: Code = [
    // bytes of x covered by whole vectors, of the rest, and of one weight row
    set(kvB, i32.shl(i32.and(g(K), i32.const(-4)), i32.const(2))),
    set(tailB, i32.shl(i32.and(g(K), i32.const(3)), i32.const(2))),
    set(rowW, i32.shl(g(K), i32.const(2))),
    // positions per block: X_BLOCK_BYTES of X rows (at least MR)
    set(mbStep, i32.divS(i32.const(X_BLOCK_BYTES), g(rowW))),
    control.if(i32.ltS(g(mbStep), i32.const(MR)), set(mbStep, i32.const(MR))),
    set(mb0, i32.const(0)),
    control.while(i32.ltS(g(mb0), g(M)), [
      set(mb1, i32.add(g(mb0), g(mbStep))),
      control.if(i32.gtS(g(mb1), g(M)), set(mb1, g(M))),
      set(n, g(n0)),
      control.while(i32.leS(i32.add(g(n), i32.const(NR)), g(n1)), rowsOf(NR)),
      control.while(i32.ltS(g(n), g(n1)), rowsOf(1)),
      set(mb0, g(mb1)),
    ]),
  ];
  return {
    name: "linF32",
    params: Array<"i32">(10).fill("i32"),
    locals: l.types,
    constants: l.constants,
    body: [main],
  };
}

/**
 * `linBf16` / `linF16(M, N, K, pX, ldx, pW, pY, ldy, n0, n1, pScr)`: the product of `linF32`
 * with W in 16 bits, for many positions: {@link WIDEN_ROWS} rows of W at a time are widened
 * into float32 scratch (pScr, WIDEN_ROWS · K floats; in cache) and multiplied by `linF32`
 * (function 0), so each weight is widened once per call, not once per pair of positions.
 */
function halfBlockFunction(format: "bf16" | "f16"): WasmFunction {
  const l = new Locals(11);
  const [M, N, K, pX, ldx, pW, pY, ldy, n0, n1, pScr] = Array.from({ length: 11 }, (_, i) => i);
  void N;
  const [n, rows, q, vecEnd, end, src, dst] = Array.from({ length: 7 }, () => l.add("i32"));
  const [v, t] = [l.add("v128"), l.add("v128")];
  const widenVec = (high: boolean): Code => {
    const top = i4.shl(high ? i4.extendHighU16(g(v)) : i4.extendLowU16(g(v)), i32.const(16));
    return format === "bf16" ? top : [set(t, top), f16FromTop(l, t)];
  };
  const main: Code = [
    set(n, g(n0)),
    control.while(i32.ltS(g(n), g(n1)), [
      set(rows, g(n1)),
      control.if(i32.ltS(i32.add(g(n), i32.const(WIDEN_ROWS)), g(n1)), [
        set(rows, i32.add(g(n), i32.const(WIDEN_ROWS))),
      ]),
      set(rows, i32.sub(g(rows), g(n))),
      // widen rows n … n + rows − 1 (contiguous: rows · K values) into the scratch
      set(src, i32.add(g(pW), i32.shl(i32.mul(g(n), g(K)), i32.const(1)))),
      set(dst, g(pScr)),
      set(end, i32.mul(g(rows), g(K))),
      set(vecEnd, i32.and(g(end), i32.const(-8))),
      set(q, i32.const(0)),
      control.while(i32.ltS(g(q), g(vecEnd)), [
        set(v, v128.load(g(src))),
        v128.store(g(dst), widenVec(false)),
        v128.store(g(dst), widenVec(true), 16),
        inc(src, i32.const(16)),
        inc(dst, i32.const(32)),
        inc(q, i32.const(8)),
      ]),
      control.while(i32.ltS(g(q), g(end)), [
        f32.store(g(dst), weightScalar(format, g(src))),
        inc(src, i32.const(2)),
        inc(dst, i32.const(4)),
        inc(q, i32.const(1)),
      ]),
      control.call(
        0,
        g(M),
        g(rows),
        g(K),
        g(pX),
        g(ldx),
        g(pScr),
        i32.add(g(pY), i32.shl(g(n), i32.const(2))),
        g(ldy),
        i32.const(0),
        g(rows),
      ),
      inc(n, g(rows)),
    ]),
  ];
  return {
    name: format === "bf16" ? "linBf16" : "linF16",
    params: Array<"i32">(11).fill("i32"),
    locals: l.types,
    constants: l.constants,
    body: [main],
  };
}

/**
 * `mvF32` / `mvBf16` / `mvF16`: the product of `linF32` (same arguments) for a few positions (a
 * decoding step), one weight row at a time: the row streams from memory once, in order, into
 * four independent accumulators, while the few x rows stay in cache. Measured on the course's
 * machine, one stream at a time reads memory 2-3 times faster than the register blocks' four
 * interleaved rows.
 */
function rowStreamFunction(format: WeightFormat): WasmFunction {
  const l = new Locals(10);
  const [M, N, K, pX, ldx, pW, pY, ldy, n0, n1] = Array.from({ length: 10 }, (_, i) => i);
  void N;
  const half = format !== "f32";
  const wb = weightBytes(format);
  const [n, m, pw, px, xEnd16, xEnd8, xEnd, rowW, ldxB, pwRow, pxRow] = Array.from(
    { length: 11 },
    () => l.add("i32"),
  );
  const acc = Array.from({ length: 4 }, () => l.add("v128"));
  const [wv, wt, ev] = [l.add("v128"), l.add("v128"), l.add("v128")];
  const sum = l.add("f32");
  // one step: 16 weights (four float32 vectors, or two 16-bit vectors of eight)
  const step16: Code = half
    ? [0, 1].map((h) => {
        const fmt = format as "bf16" | "f16";
        return [
          set(wv, v128.load(g(pw), 16 * h)),
          set(ev, widen(fmt, l, wv, wt, false)),
          set(wv, widen(fmt, l, wv, wt, true)),
          set(acc[2 * h], f4.add(g(acc[2 * h]), f4.mul(v128.load(g(px), 32 * h), g(ev)))),
          set(
            acc[2 * h + 1],
            f4.add(g(acc[2 * h + 1]), f4.mul(v128.load(g(px), 32 * h + 16), g(wv))),
          ),
        ];
      })
    : [0, 1, 2, 3].map((u) =>
        set(acc[u], f4.add(g(acc[u]), f4.mul(v128.load(g(px), 16 * u), v128.load(g(pw), 16 * u)))),
      );
  // the 16-bit formats: one more group of eight when K mod 16 ≥ 8
  const step8: Code = half
    ? [
        set(wv, v128.load(g(pw))),
        set(ev, widen(format as "bf16" | "f16", l, wv, wt, false)),
        set(wv, widen(format as "bf16" | "f16", l, wv, wt, true)),
        set(acc[0], f4.add(g(acc[0]), f4.mul(v128.load(g(px)), g(ev)))),
        set(acc[1], f4.add(g(acc[1]), f4.mul(v128.load(g(px), 16), g(wv)))),
        inc(px, i32.const(32)),
        inc(pw, i32.const(16)),
      ]
    : [];
  const main: Code = [
    set(rowW, i32.mul(g(K), i32.const(wb))),
    set(ldxB, i32.shl(g(ldx), i32.const(2))),
    set(n, g(n0)),
    control.while(i32.ltS(g(n), g(n1)), [
      set(pwRow, i32.add(g(pW), i32.mul(g(n), g(rowW)))),
      set(m, i32.const(0)),
      control.while(i32.ltS(g(m), g(M)), [
        set(pxRow, i32.add(g(pX), i32.mul(g(m), g(ldxB)))),
        set(px, g(pxRow)),
        set(pw, g(pwRow)),
        set(xEnd16, i32.add(g(pxRow), i32.shl(i32.and(g(K), i32.const(-16)), i32.const(2)))),
        set(xEnd8, i32.add(g(pxRow), i32.shl(i32.and(g(K), i32.const(-8)), i32.const(2)))),
        set(xEnd, i32.add(g(pxRow), i32.shl(g(K), i32.const(2)))),
        acc.map((a) => set(a, l.f(0))),
        control.while(i32.ltU(g(px), g(xEnd16)), [
          step16,
          inc(px, i32.const(64)),
          inc(pw, i32.const(16 * wb)),
        ]),
        half ? control.if(i32.ltU(g(px), g(xEnd8)), step8) : [],
        set(sum, laneSum(f4.add(f4.add(g(acc[0]), g(acc[1])), f4.add(g(acc[2]), g(acc[3]))))),
        control.while(i32.ltU(g(px), g(xEnd)), [
          set(sum, f32.add(g(sum), f32.mul(f32.load(g(px)), weightScalar(format, g(pw))))),
          inc(px, i32.const(4)),
          inc(pw, i32.const(wb)),
        ]),
        f32.store(
          i32.add(g(pY), i32.shl(i32.add(i32.mul(g(m), g(ldy)), g(n)), i32.const(2))),
          g(sum),
        ),
        inc(m, i32.const(1)),
      ]),
      inc(n, i32.const(1)),
    ]),
  ];
  return {
    name: format === "f32" ? "mvF32" : format === "bf16" ? "mvBf16" : "mvF16",
    params: Array<"i32">(10).fill("i32"),
    locals: l.types,
    constants: l.constants,
    body: [main],
  };
}

/** `permute8(M, K, pX, ldx, pXp)` (see the module comment); Xp has rows of K. */
function permuteFunction(): WasmFunction {
  const l = new Locals(5);
  const [M, K, pX, ldx, pXp] = [0, 1, 2, 3, 4];
  const [r, q, vecEnd, end, src, dst, ldxB, kB] = Array.from({ length: 8 }, () => l.add("i32"));
  const [a, b] = [l.add("v128"), l.add("v128")];
  return {
    name: "permute8",
    params: Array<"i32">(5).fill("i32"),
    locals: l.types,
    constants: l.constants,
    body: [
      set(ldxB, i32.shl(g(ldx), i32.const(2))),
      set(kB, i32.shl(g(K), i32.const(2))),
      set(vecEnd, i32.shl(i32.and(g(K), i32.const(-8)), i32.const(2))),
      set(end, g(kB)),
      set(r, i32.const(0)),
      control.while(i32.ltS(g(r), g(M)), [
        set(src, i32.add(g(pX), i32.mul(g(r), g(ldxB)))),
        set(dst, i32.add(g(pXp), i32.mul(g(r), g(kB)))),
        set(q, i32.const(0)),
        control.while(i32.ltS(g(q), g(vecEnd)), [
          set(a, v128.load(i32.add(g(src), g(q)))),
          set(b, v128.load(i32.add(g(src), g(q)), 16)),
          v128.store(i32.add(g(dst), g(q)), v128.shuffle32(g(a), g(b), [0, 2, 4, 6])),
          v128.store(i32.add(g(dst), g(q)), v128.shuffle32(g(a), g(b), [1, 3, 5, 7]), 16),
          inc(q, i32.const(32)),
        ]),
        control.while(i32.ltS(g(q), g(end)), [
          f32.store(i32.add(g(dst), g(q)), f32.load(i32.add(g(src), g(q)))),
          inc(q, i32.const(4)),
        ]),
        inc(r, i32.const(1)),
      ]),
    ],
  };
}

/** `negExp(pX, pY, q0, q1)`: y = −exp(x) over the vectors q0 ≤ q < q1 (values 4q … 4q + 3). */
function negExpFunction(): WasmFunction {
  const l = new Locals(4);
  const [pX, pY, q0, q1] = [0, 1, 2, 3];
  const [q, end] = [l.add("i32"), l.add("i32")];
  const te = expTemps(l);
  const main: Code = [
    set(q, i32.shl(g(q0), i32.const(4))),
    set(end, i32.shl(g(q1), i32.const(4))),
    control.while(i32.ltS(g(q), g(end)), [
      v128.store(i32.add(g(pY), g(q)), f4.neg(exp4(v128.load(i32.add(g(pX), g(q))), te))),
      inc(q, i32.const(16)),
    ]),
  ];
  return {
    name: "negExp",
    params: ["i32", "i32", "i32", "i32"],
    locals: l.types,
    constants: l.constants,
    body: [main],
  };
}

/**
 * `differs(n, pA, pB, pOut)`: 1 at pOut (a float32) when the n values at pA and pB differ in any
 * bit, else 0.
 */
function differsFunction(): WasmFunction {
  const l = new Locals(4);
  const [n, pA, pB, pOut] = [0, 1, 2, 3];
  const [q, vecEnd, end, bits] = [l.add("i32"), l.add("i32"), l.add("i32"), l.add("i32")];
  const acc = l.add("v128");
  const main: Code = [
    set(acc, l.i(0)),
    set(bits, i32.const(0)),
    set(q, i32.const(0)),
    set(end, i32.shl(g(n), i32.const(2))),
    set(vecEnd, i32.and(g(end), i32.const(-16))),
    control.while(i32.ltS(g(q), g(vecEnd)), [
      set(
        acc,
        v128.or(g(acc), v128.xor(v128.load(i32.add(g(pA), g(q))), v128.load(i32.add(g(pB), g(q))))),
      ),
      inc(q, i32.const(16)),
    ]),
    control.while(i32.ltS(g(q), g(end)), [
      set(
        bits,
        i32.or(g(bits), i32.xor(i32.load(i32.add(g(pA), g(q))), i32.load(i32.add(g(pB), g(q))))),
      ),
      inc(q, i32.const(4)),
    ]),
    set(bits, i32.or(g(bits), v128.anyTrue(g(acc)))),
    f32.store(g(pOut), f32.fromI32(i32.select(i32.const(1), i32.const(0), g(bits)))),
  ];
  return {
    name: "differs",
    params: ["i32", "i32", "i32", "i32"],
    locals: l.types,
    constants: l.constants,
    body: [main],
  };
}

/**
 * Four lanes gathered from the rows c … c + 3 of a (·, width) matrix at column `col`, the address
 * of its row c in local `base`: one scalar load per lane, at constant offsets.
 */
function gather(base: number, width: number, col: number): Code {
  let v: Code = v128.load32Splat(g(base), 4 * col);
  for (let i = 1; i < 4; i++) v = f4.replaceLane(v, i, f32.load(g(base), 4 * (i * width + col)));
  return v;
}

/** The four lanes of v (a local) stored to rows c … c + 3 of a (·, width) matrix at column `col`. */
function scatter(base: number, width: number, col: number, v: number): Code {
  return Array.from({ length: 4 }, (_, i) =>
    f32.store(g(base), f4.extractLane(g(v), i), 4 * (i * width + col)),
  );
}

/** `convState` for conv width k (see the module comment). */
function convStateFunction(k: number): WasmFunction {
  const l = new Locals(11);
  const [L, pX, ldx, pW, pBias, hasBias, pS, pY, ldy, g0, g1] = Array.from(
    { length: 11 },
    (_, i) => i,
  );
  const [gi, t, px, py, pwc, psc, ldxB, ldyB] = Array.from({ length: 8 }, () => l.add("i32"));
  const w = Array.from({ length: k }, () => l.add("v128"));
  const r = Array.from({ length: k }, () => l.add("v128"));
  const [bias, acc] = [l.add("v128"), l.add("v128")];
  // r[0..k−1]: the inputs at positions t − k … t − 1; step t shifts them and appends x_t
  const stepCode: Code = [
    r.slice(0, k - 1).map((rj, j) => set(rj, g(r[j + 1]))),
    set(r[k - 1], v128.load(g(px))),
    set(acc, g(bias)),
    // taps j = 0 … k − 1 read positions t − (k − 1) + j: r[j] after the shift
    r.map((rj, j) => set(acc, f4.add(g(acc), f4.mul(g(w[j]), g(rj))))),
    v128.store(g(py), g(acc)),
    inc(px, g(ldxB)),
    inc(py, g(ldyB)),
    inc(t, i32.const(1)),
  ];
  const perGroup: Code = [
    set(pwc, i32.add(g(pW), i32.mul(g(gi), i32.const(16 * k)))),
    set(psc, i32.add(g(pS), i32.mul(g(gi), i32.const(16 * k)))),
    w.map((wj, j) => set(wj, gather(pwc, k, j))),
    r.map((rj, j) => set(rj, gather(psc, k, j))),
    set(bias, l.f(0)),
    control.if(g(hasBias), set(bias, v128.load(i32.add(g(pBias), i32.shl(g(gi), i32.const(4)))))),
    set(px, i32.add(g(pX), i32.shl(g(gi), i32.const(4)))),
    set(py, i32.add(g(pY), i32.shl(g(gi), i32.const(4)))),
    set(t, i32.const(0)),
    control.while(i32.ltS(g(t), g(L)), stepCode),
    r.map((rj, j) => scatter(psc, k, j, rj)),
    inc(gi, i32.const(1)),
  ];
  return {
    name: "convState",
    params: Array<"i32">(11).fill("i32"),
    locals: l.types,
    constants: l.constants,
    body: [
      set(ldxB, i32.shl(g(ldx), i32.const(2))),
      set(ldyB, i32.shl(g(ldy), i32.const(2))),
      set(gi, g(g0)),
      control.while(i32.ltS(g(gi), g(g1)), perGroup),
    ],
  };
}

/** Positions whose Δ `scanState` makes ahead of their states (a power of two). */
const DELTA_BLOCK = 32;

/** `scanState` / `scanStateLti` for state size N (see the module comment). */
function scanStateFunction(N: number, lti: boolean): WasmFunction {
  const P = 16;
  const l = new Locals(P);
  const [L, ld, pRaw, pBias, pA, pB, pC, pU, pZ, hasZ, pD, pY, pH, pScr, g0, g1] = Array.from(
    { length: P },
    (_, i) => i,
  );
  const [gi, t, prow, pb, pc, pac, phc, pbc, pcc, ldB, q, qEnd, left] = Array.from(
    { length: 13 },
    () => l.add("i32"),
  );
  const [hn, vb, vD, raw, dt, u, du, acc, y, zt] = Array.from({ length: 10 }, () => l.add("v128"));
  const te = expTemps(l);
  const at = (base: number): Code => i32.add(g(base), g(prow));
  // this group's A · log₂e (exp(Δ A) = 2^(Δ A log₂e), as in ./kernels.ts scanFwd; and,
  // time-invariant, B and C) and its state h in the scratch: N vectors each.
  // h is loaded and stored per state, not kept in N locals: with locals, V8's compiler interleaves
  // the N exponentials of a position and spills their temporaries (as in ./kernels.ts scanFwd)
  const aOf = (n: number): Code => v128.load(g(pScr), 16 * n);
  const hAt = 16 * (lti ? 3 : 1) * N;
  const hOf = (n: number): Code => v128.load(g(pScr), hAt + 16 * n);
  const ns = Array.from({ length: N }, (_, n) => n);
  const bOf = (n: number): Code =>
    lti ? v128.load(g(pScr), 16 * (N + n)) : v128.load32Splat(g(pb), 4 * n);
  const cOf = (n: number): Code =>
    lti ? v128.load(g(pScr), 16 * (2 * N + n)) : v128.load32Splat(g(pc), 4 * n);
  // Δ of the next DELTA_BLOCK positions, ahead of their states, kept in y until the position's
  // output replaces it (as in ./kernels.ts scanFwd: a softplus made inside the position holds
  // back the next position's states; the prompt's scan ran 1.3× slower)
  const deltas = softplusRows({
    pRaw,
    pOut: pY,
    from: prow,
    stride: ldB,
    count: i32.select(i32.const(DELTA_BLOCK), g(left), i32.ltS(i32.const(DELTA_BLOCK), g(left))),
    bias: vb,
    temps: { q, end: qEnd, raw, l, te },
  });
  const stepCode: Code = [
    set(left, i32.sub(g(L), g(t))),
    control.if(i32.eqz(i32.and(g(t), i32.const(DELTA_BLOCK - 1))), deltas),
    set(dt, v128.load(at(pY))),
    set(u, v128.load(at(pU))),
    set(du, f4.mul(g(dt), g(u))),
    ns.map((n) => [
      set(
        hn,
        f4.add(f4.mul(exp2NonPositive4(f4.mul(g(dt), aOf(n)), te), hOf(n)), f4.mul(g(du), bOf(n))),
      ),
      v128.store(g(pScr), g(hn), hAt + 16 * n),
      set(acc, n === 0 ? f4.mul(g(hn), cOf(n)) : f4.add(g(acc), f4.mul(g(hn), cOf(n)))),
    ]),
    set(y, f4.add(g(acc), f4.mul(g(vD), g(u)))),
    control.if(g(hasZ), [
      set(zt, v128.load(at(pZ))),
      set(y, f4.mul(f4.mul(g(y), g(zt)), sigmoid4(g(zt), l, te))),
    ]),
    v128.store(at(pY), g(y)),
    inc(prow, g(ldB)),
    lti ? [] : [inc(pb, i32.const(4 * N)), inc(pc, i32.const(4 * N))],
    inc(t, i32.const(1)),
  ];
  const perGroup: Code = [
    // rows 4g … 4g + 3 of the (E, N) matrices
    set(pac, i32.add(g(pA), i32.mul(g(gi), i32.const(16 * N)))),
    set(phc, i32.add(g(pH), i32.mul(g(gi), i32.const(16 * N)))),
    lti
      ? [
          set(pbc, i32.add(g(pB), i32.mul(g(gi), i32.const(16 * N)))),
          set(pcc, i32.add(g(pC), i32.mul(g(gi), i32.const(16 * N)))),
        ]
      : [],
    ns.map((n) => [
      v128.store(g(pScr), f4.mul(gather(pac, N, n), l.f(Math.LOG2E)), 16 * n),
      lti
        ? [
            v128.store(g(pScr), gather(pbc, N, n), 16 * (N + n)),
            v128.store(g(pScr), gather(pcc, N, n), 16 * (2 * N + n)),
          ]
        : [],
      v128.store(g(pScr), gather(phc, N, n), hAt + 16 * n),
    ]),
    set(vb, v128.load(i32.add(g(pBias), i32.shl(g(gi), i32.const(4))))),
    set(vD, v128.load(i32.add(g(pD), i32.shl(g(gi), i32.const(4))))),
    set(prow, i32.shl(g(gi), i32.const(4))),
    set(pb, g(pB)),
    set(pc, g(pC)),
    set(t, i32.const(0)),
    control.while(i32.ltS(g(t), g(L)), stepCode),
    ns.map((n) => [set(hn, hOf(n)), scatter(phc, N, n, hn)]),
    inc(gi, i32.const(1)),
  ];
  return {
    name: lti ? "scanStateLti" : "scanState",
    params: Array<"i32">(P).fill("i32"),
    locals: l.types,
    constants: l.constants,
    body: [
      set(ldB, i32.shl(g(ld), i32.const(2))),
      set(gi, g(g0)),
      control.while(i32.ltS(g(gi), g(g1)), perGroup),
    ],
  };
}

/**
 * `scanStep(pRaw, pBias, pA, pB, pC, pU, pZ, hasZ, pD, pY, pH, g0, g1)` / `scanStepLti`: the scan
 * of `scanState` for one position (a decoding step), N a multiple of 4, vectorised over the
 * state instead of the channels: a channel's row of A and of h (E, N) are N/4 whole vectors, so
 * nothing is gathered. Δ, u and the gate are computed four channels at a time, then each of the
 * four channels updates its h (N/4 vectors: exp(Δ A) ⊙ h + Δ u B) and sums ⟨C, h⟩.
 */
function scanStepFunction(N: number, lti: boolean): WasmFunction {
  const P = 13;
  const l = new Locals(P);
  const [pRaw, pBias, pA, pB, pC, pU, pZ, hasZ, pD, pY, pH, g0, g1] = Array.from(
    { length: P },
    (_, i) => i,
  );
  const [gi, g16, pa, ph, pb, pc] = Array.from({ length: 6 }, () => l.add("i32"));
  const [raw, dt4, u4, du4, y4, zt, dt, du, acc, hv] = Array.from({ length: 10 }, () =>
    l.add("v128"),
  );
  const te = expTemps(l);
  const NV = N / 4;
  const perChannel = (lane: number): Code => [
    set(dt, f4.splat(f4.extractLane(g(dt4), lane))),
    set(du, f4.splat(f4.extractLane(g(du4), lane))),
    set(acc, l.f(0)),
    Array.from({ length: NV }, (_, q) => [
      set(
        hv,
        f4.add(
          f4.mul(exp4(f4.mul(g(dt), v128.load(g(pa), 16 * q)), te), v128.load(g(ph), 16 * q)),
          f4.mul(g(du), v128.load(g(pb), 16 * q)),
        ),
      ),
      v128.store(g(ph), g(hv), 16 * q),
      set(acc, f4.add(g(acc), f4.mul(g(hv), v128.load(g(pc), 16 * q)))),
    ]),
    set(y4, f4.replaceLane(g(y4), lane, laneSum(g(acc)))),
    inc(pa, i32.const(4 * N)),
    inc(ph, i32.const(4 * N)),
    lti ? [inc(pb, i32.const(4 * N)), inc(pc, i32.const(4 * N))] : [],
  ];
  const perGroup: Code = [
    set(g16, i32.shl(g(gi), i32.const(4))),
    set(raw, f4.add(v128.load(i32.add(g(pRaw), g(g16))), v128.load(i32.add(g(pBias), g(g16))))),
    set(dt4, softplus4(raw, l, te)),
    set(u4, v128.load(i32.add(g(pU), g(g16)))),
    set(du4, f4.mul(g(dt4), g(u4))),
    // channel 4g's rows of A and h (and, time-invariant, of B and C)
    set(pa, i32.add(g(pA), i32.mul(g(gi), i32.const(16 * N)))),
    set(ph, i32.add(g(pH), i32.mul(g(gi), i32.const(16 * N)))),
    lti
      ? [
          set(pb, i32.add(g(pB), i32.mul(g(gi), i32.const(16 * N)))),
          set(pc, i32.add(g(pC), i32.mul(g(gi), i32.const(16 * N)))),
        ]
      : [set(pb, g(pB)), set(pc, g(pC))],
    [0, 1, 2, 3].map(perChannel),
    set(y4, f4.add(g(y4), f4.mul(v128.load(i32.add(g(pD), g(g16))), g(u4)))),
    control.if(g(hasZ), [
      set(zt, v128.load(i32.add(g(pZ), g(g16)))),
      set(y4, f4.mul(f4.mul(g(y4), g(zt)), sigmoid4(g(zt), l, te))),
    ]),
    v128.store(i32.add(g(pY), g(g16)), g(y4)),
    inc(gi, i32.const(1)),
  ];
  return {
    name: lti ? "scanStepLti" : "scanStep",
    params: Array<"i32">(P).fill("i32"),
    locals: l.types,
    constants: l.constants,
    body: [[set(gi, g(g0)), control.while(i32.ltS(g(gi), g(g1)), perGroup)]],
  };
}

/** The module of the products, `permute8` and `negExp` (see the module comment). */
export function matmulModuleBytes(memory: ModuleMemory): Uint8Array {
  return assembleModule(
    [
      linearFunction(),
      halfBlockFunction("bf16"),
      halfBlockFunction("f16"),
      rowStreamFunction("f32"),
      rowStreamFunction("bf16"),
      rowStreamFunction("f16"),
      permuteFunction(),
      negExpFunction(),
      differsFunction(),
    ],
    memory,
  );
}

/** The module of `convState` for conv width k (see the module comment). */
export function convModuleBytes(k: number, memory: ModuleMemory): Uint8Array {
  return assembleModule([convStateFunction(k)], memory);
}

/**
 * The module of `scanState` and `scanStateLti` for state size N, and `scanStep`, `scanStepLti`
 * when N is a multiple of 4 (see the module comment).
 */
export function scanStateModuleBytes(N: number, memory: ModuleMemory): Uint8Array {
  const step = N % 4 === 0 ? [scanStepFunction(N, false), scanStepFunction(N, true)] : [];
  return assembleModule([scanStateFunction(N, false), scanStateFunction(N, true), ...step], memory);
}
