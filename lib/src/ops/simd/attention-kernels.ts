/**
 * The WebAssembly SIMD kernels of the Transformer++ on the simd backend (float32, four lanes per
 * vector), written with the course's assembler (`./wasm.ts`). The
 * products of attention (QKᵀ, PV and the four of its backward) are the core module's register-
 * blocked `gemm` (`./kernels.ts`) on strided views; this module holds what surrounds them. All
 * addresses are byte offsets into the backend's one shared memory; arrays are float32, row-major;
 * row strides (`ld…`) are in elements.
 *
 * - `softmaxRows(rows, W, ld, pS, n0, keys, pInv, pE)`: causal softmax of a block of attention
 *   scores S into E (pE may be pS), in base 2: row r of S holds s_rj = (q·k_j)·log₂e/√hd (the
 *   keys came prescaled)
 *   for keys j < W (W a multiple of 4); only the first n_r = min(keys, n0 + r) are visible to it
 *   (the causal mask: query i sees keys j ≤ offset + i). Writes the unnormalised weights
 *   E_rj = 2^(s_rj − max_r) = e^((q·k_j − max)/√hd) for j < n_r, exactly 0 for n_r ≤ j < W (so
 *   products over the whole block ignore masked keys), and 1 / Σ_j E_rj to inv[r]: the softmax
 *   is P_rj = E_rj · inv_r, the normalisation left to the (b·l·hd-sized) products' outputs.
 * - `dsRows(rows, W, ld, pE, pG, pD, pInv, scale, pOut)`: the softmax's backward on a block:
 *   out = E ⊙ (G − D_r) · inv_r · scale = P ⊙ (∂P − D_r) / √hd, with G = ∂P = ∂O·Vᵀ and
 *   D_r = Σ_j P_rj ∂P_rj = ∂O_r·O_r (read from pD); E, G and out share the row stride ld
 *   (out may be E or G).
 * - `scaleRows(rows, n, pSrc, ldSrc, pDst, ldDst, pF)`: dst_r = src_r · f_r (rows of n values;
 *   the normalisation of the outputs, and ∂O scaled for ∂V = Eᵀ(inv ⊙ ∂O)). pDst may be pSrc.
 * - `rowDots(rows, n, pA, lda, pB, ldb, pOut)`: out_r = Σ_e A_re B_re (D_r above).
 * - `transpose(rows, cols, pSrc, ldSrc, pDst, ldDst, c)`: dst[j, i] = c · src[i, j] (a head's
 *   keys, prescaled by log₂e/√hd, or values as (head_dim, positions): the B operand of QKᵀ and
 *   ∂O·Vᵀ; and ∂Kᵀ, ∂Vᵀ back into the token-major ∂k, ∂v).
 * - `rope(L, heads, half, pX, pY, pCos, pSin, sign)`: rotate-half RoPE of L token rows of
 *   `heads` vectors of width 2·half: y₁ = x₁ cos − x₂ sin·sign, y₂ = x₂ cos + x₁ sin·sign with
 *   the row's tables (L, half); sign −1 is the backward (the transpose). pY may be pX.
 * - `mul(n4, pA, pB, pOut)`: out = a ⊙ b over 4·n4 values (SwiGLU's product; pOut may be pA).
 *
 * Every loop runs whole vectors and then, where a width need not be a multiple of 4, single
 * values (`rowDots`, `scaleRows`, `rope`, `transpose`: 4 × 4 tiles by shuffles, then the edges)
 * or one masked vector (`softmaxRows`). The softmax's
 * exponential is a power of two (`./wasm-math.ts`' `exp2NonPositive4`): with log₂e folded into
 * the keys, 2^x needs no Cody-Waite reduction (e^x does), 19 vector operations per four weights
 * instead of 24.
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
  inc,
  set,
  v128,
} from "./wasm";
import { Locals, exp2NonPositive4, expTemps } from "./wasm-math";
import { elementwiseFunction, laneSum, rowLoop } from "./kernels";

const shl2 = (x: Code): Code => i32.shl(x, i32.const(2));

/** The maximum of the four lanes of a vector (a float32 on the stack). */
function laneMax(v: Code): Code {
  return f32.max(
    f32.max(f4.extractLane(v, 0), f4.extractLane(v, 1)),
    f32.max(f4.extractLane(v, 2), f4.extractLane(v, 3)),
  );
}

function softmaxFunction(): WasmFunction {
  const l = new Locals(8);
  const [rows, W, ld, pS, n0, keys, pInv, pE] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [r, n, nB, n4B, WB, ldB, j] = Array.from({ length: 7 }, () => l.add("i32"));
  const m = l.add("f32");
  const [vm, vm2, vs, vs2, vmx, e, e2, mask] = Array.from({ length: 8 }, () => l.add("v128"));
  const te = expTemps(l);
  const te2 = expTemps(l);
  const at = (off: number): Code => i32.add(g(pS), g(off));
  const out = (off: number): Code => i32.add(g(pE), g(off));
  /** 2^(s − max) of the vector at byte offset j (+ `offset`) of the row. */
  const expAt = (t = te, offset = 0): Code =>
    exp2NonPositive4(f4.sub(v128.load(at(j), offset), g(vmx)), t);
  // the maximum and the sum run two vectors at a time into two accumulators: one chain of
  // dependent max (add) operations per vector would hold each loop to that chain's latency
  const row: Code = [
    // n = min(keys, n0 + r): the keys this query sees
    set(n, i32.add(g(n0), g(r))),
    set(n, i32.select(g(n), g(keys), i32.ltS(g(n), g(keys)))),
    set(nB, shl2(g(n))),
    set(n4B, i32.and(g(nB), i32.const(-16))),
    // the row's maximum over its visible keys
    set(vm, l.f(-Infinity)),
    set(vm2, l.f(-Infinity)),
    set(j, i32.const(0)),
    control.while(i32.leS(i32.add(g(j), i32.const(32)), g(n4B)), [
      set(vm, f4.pmax(g(vm), v128.load(at(j)))),
      set(vm2, f4.pmax(g(vm2), v128.load(at(j), 16))),
      inc(j, i32.const(32)),
    ]),
    control.if(i32.ltS(g(j), g(n4B)), [
      set(vm, f4.pmax(g(vm), v128.load(at(j)))),
      inc(j, i32.const(16)),
    ]),
    set(m, laneMax(f4.pmax(g(vm), g(vm2)))),
    control.while(i32.ltS(g(j), g(nB)), [
      set(m, f32.max(g(m), f32.load(at(j)))),
      inc(j, i32.const(4)),
    ]),
    set(vmx, f4.splat(g(m))),
    // powers of two and their sum; the last partial vector with its masked lanes zeroed
    set(vs, l.f(0)),
    set(vs2, l.f(0)),
    set(j, i32.const(0)),
    control.while(i32.leS(i32.add(g(j), i32.const(32)), g(n4B)), [
      set(e, expAt()),
      set(e2, expAt(te2, 16)),
      v128.store(out(j), g(e)),
      v128.store(out(j), g(e2), 16),
      set(vs, f4.add(g(vs), g(e))),
      set(vs2, f4.add(g(vs2), g(e2))),
      inc(j, i32.const(32)),
    ]),
    control.if(i32.ltS(g(j), g(n4B)), [
      set(e, expAt()),
      v128.store(out(j), g(e)),
      set(vs, f4.add(g(vs), g(e))),
      inc(j, i32.const(16)),
    ]),
    set(vs, f4.add(g(vs), g(vs2))),
    control.if(i32.ltS(g(j), g(nB)), [
      // lanes 0 … (n mod 4) − 1 of the last vector are visible
      set(mask, f4.lt(l.lanes([0, 1, 2, 3]), f4.splat(f32.fromI32(i32.and(g(n), i32.const(3)))))),
      set(e, v128.and(expAt(), g(mask))),
      v128.store(out(j), g(e)),
      set(vs, f4.add(g(vs), g(e))),
      inc(j, i32.const(16)),
    ]),
    f32.store(g(pInv), f32.div(f32.const(1), laneSum(g(vs)))),
    // masked keys: exactly zero up to the block's width
    control.while(i32.ltS(g(j), g(WB)), [v128.store(out(j), l.f(0)), inc(j, i32.const(16))]),
    inc(pS, g(ldB)),
    inc(pE, g(ldB)),
    inc(pInv, i32.const(4)),
    inc(r, i32.const(1)),
  ];
  return {
    name: "softmaxRows",
    params: Array<"i32">(8).fill("i32"),
    locals: l.types,
    constants: l.constants,
    body: [
      set(WB, shl2(g(W))),
      set(ldB, shl2(g(ld))),
      set(r, i32.const(0)),
      control.while(i32.ltS(g(r), g(rows)), row),
    ],
  };
}

function dsFunction(): WasmFunction {
  const l = new Locals(9);
  const [rows, W, ld, pP, pG, pD, pInv, scale, pOut] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const [r, j, WB, ldB] = Array.from({ length: 4 }, () => l.add("i32"));
  const [vd, vf] = [l.add("v128"), l.add("v128")];
  return {
    name: "dsRows",
    params: ["i32", "i32", "i32", "i32", "i32", "i32", "i32", "f32", "i32"],
    locals: l.types,
    constants: l.constants,
    body: [
      set(WB, shl2(g(W))),
      set(ldB, shl2(g(ld))),
      set(r, i32.const(0)),
      control.while(i32.ltS(g(r), g(rows)), [
        set(vd, v128.load32Splat(g(pD))),
        set(vf, f4.splat(f32.mul(f32.load(g(pInv)), g(scale)))),
        set(j, i32.const(0)),
        control.while(i32.ltS(g(j), g(WB)), [
          v128.store(
            i32.add(g(pOut), g(j)),
            f4.mul(
              f4.mul(
                v128.load(i32.add(g(pP), g(j))),
                f4.sub(v128.load(i32.add(g(pG), g(j))), g(vd)),
              ),
              g(vf),
            ),
          ),
          inc(j, i32.const(16)),
        ]),
        inc(pP, g(ldB)),
        inc(pG, g(ldB)),
        inc(pOut, g(ldB)),
        inc(pD, i32.const(4)),
        inc(pInv, i32.const(4)),
        inc(r, i32.const(1)),
      ]),
    ],
  };
}

function scaleRowsFunction(): WasmFunction {
  const l = new Locals(7);
  const [rows, n, pSrc, ldSrc, pDst, ldDst, pF] = [0, 1, 2, 3, 4, 5, 6];
  const [r, j, nB, n4B, ldSrcB, ldDstB] = Array.from({ length: 6 }, () => l.add("i32"));
  const f = l.add("f32");
  const vf = l.add("v128");
  return {
    name: "scaleRows",
    params: Array<"i32">(7).fill("i32"),
    locals: l.types,
    constants: l.constants,
    body: [
      set(nB, shl2(g(n))),
      set(n4B, i32.and(g(nB), i32.const(-16))),
      set(ldSrcB, shl2(g(ldSrc))),
      set(ldDstB, shl2(g(ldDst))),
      set(r, i32.const(0)),
      control.while(i32.ltS(g(r), g(rows)), [
        set(f, f32.load(g(pF))),
        set(vf, f4.splat(g(f))),
        rowLoop(
          j,
          nB,
          n4B,
          (q) => v128.store(i32.add(g(pDst), q), f4.mul(v128.load(i32.add(g(pSrc), q)), g(vf))),
          (q) => f32.store(i32.add(g(pDst), q), f32.mul(f32.load(i32.add(g(pSrc), q)), g(f))),
        ),
        inc(pSrc, g(ldSrcB)),
        inc(pDst, g(ldDstB)),
        inc(pF, i32.const(4)),
        inc(r, i32.const(1)),
      ]),
    ],
  };
}

function rowDotsFunction(): WasmFunction {
  const l = new Locals(7);
  const [rows, n, pA, lda, pB, ldb, pOut] = [0, 1, 2, 3, 4, 5, 6];
  const [r, j, nB, n4B, ldaB, ldbB] = Array.from({ length: 6 }, () => l.add("i32"));
  const s = l.add("f32");
  const acc = l.add("v128");
  return {
    name: "rowDots",
    params: Array<"i32">(7).fill("i32"),
    locals: l.types,
    constants: l.constants,
    body: [
      set(nB, shl2(g(n))),
      set(n4B, i32.and(g(nB), i32.const(-16))),
      set(ldaB, shl2(g(lda))),
      set(ldbB, shl2(g(ldb))),
      set(r, i32.const(0)),
      control.while(i32.ltS(g(r), g(rows)), [
        set(acc, l.f(0)),
        set(j, i32.const(0)),
        control.while(i32.ltS(g(j), g(n4B)), [
          set(
            acc,
            f4.add(
              g(acc),
              f4.mul(v128.load(i32.add(g(pA), g(j))), v128.load(i32.add(g(pB), g(j)))),
            ),
          ),
          inc(j, i32.const(16)),
        ]),
        set(s, laneSum(g(acc))),
        control.while(i32.ltS(g(j), g(nB)), [
          set(
            s,
            f32.add(g(s), f32.mul(f32.load(i32.add(g(pA), g(j))), f32.load(i32.add(g(pB), g(j))))),
          ),
          inc(j, i32.const(4)),
        ]),
        f32.store(g(pOut), g(s)),
        inc(pA, g(ldaB)),
        inc(pB, g(ldbB)),
        inc(pOut, i32.const(4)),
        inc(r, i32.const(1)),
      ]),
    ],
  };
}

function transposeFunction(): WasmFunction {
  const l = new Locals(7);
  const [rows, cols, pSrc, ldSrc, pDst, ldDst, c0] = [0, 1, 2, 3, 4, 5, 6];
  const [r, c, ps, pd, ldSrcB, ldDstB, rows4, cols4] = Array.from({ length: 8 }, () =>
    l.add("i32"),
  );
  const [vc, v0, v1, v2, v3, t0, t1, t2, t3] = Array.from({ length: 9 }, () => l.add("v128"));
  /** Single values: rows r … r + count − 1, each from column `from` on. */
  const scalarRows = (count: Code, from: Code): Code => {
    const k = l.add("i32");
    return [
      set(k, i32.const(0)),
      control.while(i32.ltS(g(k), count), [
        set(c, from),
        set(ps, i32.add(i32.add(g(pSrc), i32.mul(i32.add(g(r), g(k)), g(ldSrcB))), shl2(g(c)))),
        set(pd, i32.add(i32.add(g(pDst), i32.mul(g(c), g(ldDstB))), shl2(i32.add(g(r), g(k))))),
        control.while(i32.ltS(g(c), g(cols)), [
          f32.store(g(pd), f32.mul(f32.load(g(ps)), g(c0))),
          inc(ps, i32.const(4)),
          inc(pd, g(ldDstB)),
          inc(c, i32.const(1)),
        ]),
        inc(k, i32.const(1)),
      ]),
    ];
  };
  // a 4 × 4 tile: four rows' vectors, transposed with eight shuffles into four columns' vectors
  const tile: Code = [
    set(ps, i32.add(i32.add(g(pSrc), i32.mul(g(r), g(ldSrcB))), shl2(g(c)))),
    set(v0, v128.load(g(ps))),
    set(v1, v128.load(i32.add(g(ps), g(ldSrcB)))),
    set(v2, v128.load(i32.add(g(ps), i32.shl(g(ldSrcB), i32.const(1))))),
    set(v3, v128.load(i32.add(g(ps), i32.mul(g(ldSrcB), i32.const(3))))),
    set(t0, v128.shuffle32(g(v0), g(v1), [0, 4, 1, 5])),
    set(t1, v128.shuffle32(g(v0), g(v1), [2, 6, 3, 7])),
    set(t2, v128.shuffle32(g(v2), g(v3), [0, 4, 1, 5])),
    set(t3, v128.shuffle32(g(v2), g(v3), [2, 6, 3, 7])),
    set(pd, i32.add(i32.add(g(pDst), i32.mul(g(c), g(ldDstB))), shl2(g(r)))),
    [
      [t0, t2, [0, 1, 4, 5]],
      [t0, t2, [2, 3, 6, 7]],
      [t1, t3, [0, 1, 4, 5]],
      [t1, t3, [2, 3, 6, 7]],
    ].map(([x, y, lanes], i) =>
      v128.store(
        i32.add(g(pd), i32.mul(g(ldDstB), i32.const(i))),
        f4.mul(
          v128.shuffle32(g(x as number), g(y as number), lanes as [number, number, number, number]),
          g(vc),
        ),
      ),
    ),
    inc(c, i32.const(4)),
  ];
  return {
    name: "transpose",
    params: ["i32", "i32", "i32", "i32", "i32", "i32", "f32"],
    locals: l.types,
    constants: l.constants,
    body: [
      set(vc, f4.splat(g(c0))),
      set(ldSrcB, shl2(g(ldSrc))),
      set(ldDstB, shl2(g(ldDst))),
      set(rows4, i32.and(g(rows), i32.const(-4))),
      set(cols4, i32.and(g(cols), i32.const(-4))),
      set(r, i32.const(0)),
      control.while(i32.ltS(g(r), g(rows4)), [
        set(c, i32.const(0)),
        control.while(i32.ltS(g(c), g(cols4)), tile),
        scalarRows(i32.const(4), g(cols4)),
        inc(r, i32.const(4)),
      ]),
      scalarRows(i32.sub(g(rows), g(rows4)), i32.const(0)),
    ],
  };
}

function ropeFunction(): WasmFunction {
  const l = new Locals(8);
  const [L, heads, half, pX, pY, pCos, pSin, sign] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [t, h, j, hB, h4B, px, py] = Array.from({ length: 7 }, () => l.add("i32"));
  const [c1, s1, x1, x2] = Array.from({ length: 4 }, () => l.add("f32"));
  const [vsg, c, s, v1, v2] = Array.from({ length: 5 }, () => l.add("v128"));
  const vector: Code = [
    set(c, v128.load(i32.add(g(pCos), g(j)))),
    set(s, f4.mul(v128.load(i32.add(g(pSin), g(j))), g(vsg))),
    set(v1, v128.load(i32.add(g(px), g(j)))),
    set(v2, v128.load(i32.add(i32.add(g(px), g(hB)), g(j)))),
    v128.store(i32.add(g(py), g(j)), f4.sub(f4.mul(g(v1), g(c)), f4.mul(g(v2), g(s)))),
    v128.store(
      i32.add(i32.add(g(py), g(hB)), g(j)),
      f4.add(f4.mul(g(v2), g(c)), f4.mul(g(v1), g(s))),
    ),
    inc(j, i32.const(16)),
  ];
  const scalar: Code = [
    set(c1, f32.load(i32.add(g(pCos), g(j)))),
    set(s1, f32.mul(f32.load(i32.add(g(pSin), g(j))), g(sign))),
    set(x1, f32.load(i32.add(g(px), g(j)))),
    set(x2, f32.load(i32.add(i32.add(g(px), g(hB)), g(j)))),
    f32.store(i32.add(g(py), g(j)), f32.sub(f32.mul(g(x1), g(c1)), f32.mul(g(x2), g(s1)))),
    f32.store(
      i32.add(i32.add(g(py), g(hB)), g(j)),
      f32.add(f32.mul(g(x2), g(c1)), f32.mul(g(x1), g(s1))),
    ),
    inc(j, i32.const(4)),
  ];
  return {
    name: "rope",
    params: ["i32", "i32", "i32", "i32", "i32", "i32", "i32", "f32"],
    locals: l.types,
    constants: l.constants,
    body: [
      set(vsg, f4.splat(g(sign))),
      set(hB, shl2(g(half))),
      set(h4B, i32.and(g(hB), i32.const(-16))),
      set(px, g(pX)),
      set(py, g(pY)),
      set(t, i32.const(0)),
      control.while(i32.ltS(g(t), g(L)), [
        set(h, i32.const(0)),
        control.while(i32.ltS(g(h), g(heads)), [
          set(j, i32.const(0)),
          control.while(i32.ltS(g(j), g(h4B)), vector),
          control.while(i32.ltS(g(j), g(hB)), scalar),
          inc(px, i32.shl(g(hB), i32.const(1))),
          inc(py, i32.shl(g(hB), i32.const(1))),
          inc(h, i32.const(1)),
        ]),
        inc(pCos, g(hB)),
        inc(pSin, g(hB)),
        inc(t, i32.const(1)),
      ]),
    ],
  };
}

/** The module of the Transformer++ kernels (see the module comment). */
export function attentionModuleBytes(memory: ModuleMemory): Uint8Array {
  return assembleModule(
    [
      softmaxFunction(),
      dsFunction(),
      scaleRowsFunction(),
      rowDotsFunction(),
      transposeFunction(),
      ropeFunction(),
      elementwiseFunction("mul", f4.mul),
    ],
    memory,
  );
}
