/**
 * The WebAssembly SIMD kernels of the Transformer++ on the simd backend (float32, four lanes per
 * vector), written with the course's assembler (`selective-fast/wasm.ts`) and its SIMD exp. The
 * products of attention (QKᵀ, PV and the four of its backward) are the core module's register-
 * blocked `gemm` (`./kernels.ts`) on strided views; this module holds what surrounds them. All
 * addresses are byte offsets into the backend's one shared memory; arrays are float32, row-major;
 * row strides (`ld…`) are in elements.
 *
 * - `softmaxRows(rows, W, ld, pS, scale, n0, keys)`: causal softmax of a block of attention
 *   scores, in place. Row r holds the raw scores q·k_j of one query against keys j < W (W a
 *   multiple of 4); only the first n_r = min(keys, n0 + r) are visible to it (the causal mask:
 *   query i sees keys j ≤ offset + i). Writes P_rj = exp(scale·(s_rj − max_r)) / Σ_j' for
 *   j < n_r and exactly 0 for n_r ≤ j < W, so products over the whole block ignore masked keys.
 * - `dsRows(rows, W, ld, pP, pG, pD, scale)`: the softmax's backward on a block, in place:
 *   G ← P ⊙ (G − D_r) · scale, with G = ∂P = ∂O·Vᵀ and D_r = Σ_j P_rj ∂P_rj = ∂O_r·O_r (the
 *   row's weighted mean, read from pD); P and G share the row stride ld.
 * - `rowDots(rows, n, pA, lda, pB, ldb, pOut)`: out_r = Σ_e A_re B_re (D_r above).
 * - `transpose(rows, cols, pSrc, ldSrc, pDst, ldDst)`: dst[c, r] = src[r, c] (a head's keys or
 *   values as (head_dim, positions), the B operand of QKᵀ and ∂O·Vᵀ).
 * - `rope(L, heads, half, pX, pY, pCos, pSin, sign)`: rotate-half RoPE of L token rows of
 *   `heads` vectors of width 2·half: y₁ = x₁ cos − x₂ sin·sign, y₂ = x₂ cos + x₁ sin·sign with
 *   the row's tables (L, half); sign −1 is the backward (the transpose). pY may be pX.
 * - `mul(n4, pA, pB, pOut)`: out = a ⊙ b over 4·n4 values (SwiGLU's product; pOut may be pA).
 *
 * Every loop runs whole vectors and then, where a width need not be a multiple of 4, single
 * values (`rowDots`, `rope`) or one masked vector (`softmaxRows`).
 */
import {
  type Code,
  type ModuleMemory,
  type WasmFunction,
  assembleModule,
  control,
  f32,
  f4,
  i32,
  local,
  v128,
} from "../../selective-fast/wasm";
import { Locals, exp4, expTemps } from "../../selective-fast/kernels";

const g = local.get;
const set = local.set;
const inc = (x: number, by: Code): Code => set(x, i32.add(g(x), by));
const shl2 = (x: Code): Code => i32.shl(x, i32.const(2));

/** The sum and the maximum of the four lanes of a vector (a float32 on the stack). */
function laneSum(v: Code): Code {
  return f32.add(
    f32.add(f4.extractLane(v, 0), f4.extractLane(v, 1)),
    f32.add(f4.extractLane(v, 2), f4.extractLane(v, 3)),
  );
}
function laneMax(v: Code): Code {
  return f32.max(
    f32.max(f4.extractLane(v, 0), f4.extractLane(v, 1)),
    f32.max(f4.extractLane(v, 2), f4.extractLane(v, 3)),
  );
}

function softmaxFunction(): WasmFunction {
  const l = new Locals(7);
  const [rows, W, ld, pS, scale, n0, keys] = [0, 1, 2, 3, 4, 5, 6];
  const [r, n, nB, n4B, WB, ldB, j, q] = Array.from({ length: 8 }, () => l.add("i32"));
  const [m, sum] = [l.add("f32"), l.add("f32")];
  const [vm, vs, vsc, vmx, e, mask, lanes] = Array.from({ length: 7 }, () => l.add("v128"));
  const te = expTemps(l);
  const at = (off: number): Code => i32.add(g(pS), g(off));
  /** exp(scale·s − scale·max) of the vector at byte offset j of the row. */
  const expAt = (): Code => exp4(f4.sub(f4.mul(v128.load(at(j)), g(vsc)), g(vmx)), te);
  const row: Code = [
    // n = min(keys, n0 + r): the keys this query sees
    set(n, i32.add(g(n0), g(r))),
    set(n, i32.select(g(n), g(keys), i32.ltS(g(n), g(keys)))),
    set(nB, shl2(g(n))),
    set(n4B, i32.and(g(nB), i32.const(-16))),
    // the row's maximum over its visible keys
    set(vm, l.f(-Infinity)),
    set(j, i32.const(0)),
    control.while(i32.ltS(g(j), g(n4B)), [
      set(vm, f4.pmax(g(vm), v128.load(at(j)))),
      inc(j, i32.const(16)),
    ]),
    set(m, laneMax(g(vm))),
    control.while(i32.ltS(g(j), g(nB)), [
      set(m, f32.max(g(m), f32.load(at(j)))),
      inc(j, i32.const(4)),
    ]),
    set(vmx, f4.splat(f32.mul(g(m), g(scale)))),
    // exponentials and their sum; the last partial vector with its masked lanes zeroed
    set(vs, l.f(0)),
    set(j, i32.const(0)),
    control.while(i32.ltS(g(j), g(n4B)), [
      set(e, expAt()),
      v128.store(at(j), g(e)),
      set(vs, f4.add(g(vs), g(e))),
      inc(j, i32.const(16)),
    ]),
    control.if(i32.ltS(g(j), g(nB)), [
      // lanes 0 … (n mod 4) − 1 of the last vector are visible
      set(mask, f4.lt(g(lanes), f4.splat(f32.fromI32(i32.and(g(n), i32.const(3)))))),
      set(e, v128.and(expAt(), g(mask))),
      v128.store(at(j), g(e)),
      set(vs, f4.add(g(vs), g(e))),
      inc(j, i32.const(16)),
    ]),
    set(sum, laneSum(g(vs))),
    set(vs, f4.splat(f32.div(f32.const(1), g(sum)))),
    set(q, i32.const(0)),
    control.while(i32.ltS(g(q), g(j)), [
      v128.store(i32.add(g(pS), g(q)), f4.mul(v128.load(i32.add(g(pS), g(q))), g(vs))),
      inc(q, i32.const(16)),
    ]),
    // masked keys: exactly zero up to the block's width
    control.while(i32.ltS(g(j), g(WB)), [v128.store(at(j), l.f(0)), inc(j, i32.const(16))]),
    inc(pS, g(ldB)),
    inc(r, i32.const(1)),
  ];
  return {
    name: "softmaxRows",
    params: ["i32", "i32", "i32", "i32", "f32", "i32", "i32"],
    locals: l.types,
    body: [
      l.prologue(),
      set(lanes, f4.lanes([0, 1, 2, 3])),
      set(vsc, f4.splat(g(scale))),
      set(WB, shl2(g(W))),
      set(ldB, shl2(g(ld))),
      set(r, i32.const(0)),
      control.while(i32.ltS(g(r), g(rows)), row),
    ],
  };
}

function dsFunction(): WasmFunction {
  const l = new Locals(7);
  const [rows, W, ld, pP, pG, pD, scale] = [0, 1, 2, 3, 4, 5, 6];
  const [r, j, WB, ldB] = Array.from({ length: 4 }, () => l.add("i32"));
  const [vd, vsc] = [l.add("v128"), l.add("v128")];
  return {
    name: "dsRows",
    params: ["i32", "i32", "i32", "i32", "i32", "i32", "f32"],
    locals: l.types,
    body: [
      l.prologue(),
      set(vsc, f4.splat(g(scale))),
      set(WB, shl2(g(W))),
      set(ldB, shl2(g(ld))),
      set(r, i32.const(0)),
      control.while(i32.ltS(g(r), g(rows)), [
        set(vd, v128.load32Splat(g(pD))),
        set(j, i32.const(0)),
        control.while(i32.ltS(g(j), g(WB)), [
          v128.store(
            i32.add(g(pG), g(j)),
            f4.mul(
              f4.mul(
                v128.load(i32.add(g(pP), g(j))),
                f4.sub(v128.load(i32.add(g(pG), g(j))), g(vd)),
              ),
              g(vsc),
            ),
          ),
          inc(j, i32.const(16)),
        ]),
        inc(pP, g(ldB)),
        inc(pG, g(ldB)),
        inc(pD, i32.const(4)),
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
    body: [
      l.prologue(),
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
  const l = new Locals(6);
  const [rows, cols, pSrc, ldSrc, pDst, ldDst] = [0, 1, 2, 3, 4, 5];
  const [r, c, ps, pd, ldSrcB, ldDstB] = Array.from({ length: 6 }, () => l.add("i32"));
  return {
    name: "transpose",
    params: Array<"i32">(6).fill("i32"),
    locals: l.types,
    body: [
      set(ldSrcB, shl2(g(ldSrc))),
      set(ldDstB, shl2(g(ldDst))),
      set(r, i32.const(0)),
      control.while(i32.ltS(g(r), g(rows)), [
        set(ps, g(pSrc)),
        set(pd, g(pDst)),
        set(c, i32.const(0)),
        control.while(i32.ltS(g(c), g(cols)), [
          f32.store(g(pd), f32.load(g(ps))),
          inc(ps, i32.const(4)),
          inc(pd, g(ldDstB)),
          inc(c, i32.const(1)),
        ]),
        inc(pSrc, g(ldSrcB)),
        inc(pDst, i32.const(4)),
        inc(r, i32.const(1)),
      ]),
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
    body: [
      l.prologue(),
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

function mulFunction(): WasmFunction {
  const l = new Locals(4);
  const [n4, pA, pB, pOut] = [0, 1, 2, 3];
  const [q, end] = [l.add("i32"), l.add("i32")];
  const at = (p: number): Code => i32.add(g(p), g(q));
  return {
    name: "mul",
    params: ["i32", "i32", "i32", "i32"],
    locals: l.types,
    body: [
      set(q, i32.const(0)),
      set(end, i32.shl(g(n4), i32.const(4))),
      control.while(i32.ltS(g(q), g(end)), [
        v128.store(at(pOut), f4.mul(v128.load(at(pA)), v128.load(at(pB)))),
        inc(q, i32.const(16)),
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
      rowDotsFunction(),
      transposeFunction(),
      ropeFunction(),
      mulFunction(),
    ],
    memory,
  );
}
