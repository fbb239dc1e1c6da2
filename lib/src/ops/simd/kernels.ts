/**
 * The WebAssembly SIMD kernels of the simd backend (float32, four lanes per vector), written with
 * the course's own assembler (`./wasm.ts`) and its SIMD exp and softplus (`./wasm-math.ts`). All addresses are byte offsets into the backend's one memory, a
 * shared memory every module imports (`./memory.ts`); all arrays are float32 and row-major. The
 * kernels allocate nothing. `./memory.ts` wraps each in a typed function with named arguments.
 *
 * Three modules:
 * - {@link coreModuleBytes}: what does not depend on the state size or the conv's width.
 *   - `gemm(M, N, K, pA, sAm, sAk, pB, ldb, pC, ldc, acc)`: C = A·B (acc = 0) or C += A·B
 *     (acc = 1) with A (M, K) read through strides (element (m, k) at m·sAm + k·sAk, so Aᵀ is the
 *     same kernel), B (K, N) with row stride ldb and C (M, N) with row stride ldc (strides in
 *     elements). Register blocks of 4 rows × 8 columns (eight vector accumulators), then 4 × 4,
 *     then scalar columns and single rows for the edges, so any M, N, K works.
 *   - `silu(n4, pX, pY)`, `siluBack(n4, pX, pG, pOut)`: y = x σ(x) and ∂x = g σ(x)(1 + x(1 − σ(x)))
 *     over 4·n4 values.
 *   - `add(n4, pA, pB, pOut)`: out = a + b over 4·n4 values (pOut may be pA: a += b).
 *   - `copyRows(rows, width, pSrc, srcStride, pDst, dstStride)`: `rows` rows of `width` values
 *     from one strided matrix to another (the regions must not overlap): split, concat, padding.
 *   - `rmsNorm(...)`, `rmsNormBack(...)`: RMSNorm and its backward, per row (see
 *     {@link rmsNormFunctions}).
 *   - `sumLanes(n, pIn, pOut)`: the four lanes of each of n vectors summed (the scan backward's
 *     partial sums of ∂B and ∂C).
 *   - `ssdStep(P, N, pS, pB, pC, decay, pDx, pY)`: one position of Mamba-2's SSD on one head
 *     (see {@link ssdStepFunction}).
 *   - `peak(iters, pOut)`: fourteen independent chains, seven of vector multiplies and seven of
 *     vector adds, the machine's float32 SIMD multiply and add throughput: 14 · 4 FLOPs per
 *     iteration.
 * - {@link scanModuleBytes}(N): the selective scan for state size N, its forward `scanFwd` and
 *   backward `scanBwd` for one batch element (see {@link scanForwardFunction} and
 *   {@link scanBackwardFunction}), vectorised over four channels: in the (l, E) layout the model
 *   already has, the four channels of a vector share B_t and C_t (one splat each) and no
 *   horizontal sum is needed; and `scanFwdLti` / `scanBwdLti`, the same for a time-invariant
 *   layer whose B and C are (E, N), the same at every position (a vector of four channels each).
 * - {@link causalConvModuleBytes}(K): the causal depthwise conv of K taps, `convFwd` and its
 *   backward `convBwd`, four channels per vector (see {@link convFunctions}).
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
import { type ExpTemps, Locals, exp2NonPositive4, exp4, expTemps, softplus4 } from "./wasm-math";

/** One register block of the gemm: MR rows × (4·NV columns, or 1 scalar column when NV = 0). */
function gemmBlock(
  MR: number,
  NV: number,
  v: {
    K: number;
    pA: number;
    sAm: number;
    pB: number;
    pC: number;
    ldc: number;
    acc: number;
    m0: number;
    n0: number;
    k: number;
    pak: number;
    pbk: number;
    pcr: number;
    sAkB: number;
    ldbB: number;
    off: number[];
    cv: number[];
    cs: number[];
    av: number[];
    bv: number[];
    bs: number;
    zero: Code;
  },
): Code {
  const aAddr = (i: number): Code => (i === 0 ? g(v.pak) : i32.add(g(v.pak), g(v.off[i])));
  const scalar = NV === 0;
  const accs = scalar ? v.cs.slice(0, MR) : v.cv.slice(0, MR * NV);
  const init = accs.map((c) => set(c, scalar ? f32.const(0) : v.zero));
  const body: Code[] = [];
  if (scalar) {
    body.push(set(v.bs, f32.load(g(v.pbk))));
    for (let i = 0; i < MR; i++) {
      body.push(set(accs[i], f32.add(g(accs[i]), f32.mul(f32.load(aAddr(i)), g(v.bs)))));
    }
  } else {
    for (let i = 0; i < MR; i++) body.push(set(v.av[i], v128.load32Splat(aAddr(i))));
    for (let j = 0; j < NV; j++) body.push(set(v.bv[j], v128.load(g(v.pbk), 16 * j)));
    for (let i = 0; i < MR; i++)
      for (let j = 0; j < NV; j++) {
        const c = accs[i * NV + j];
        body.push(set(c, f4.add(g(c), f4.mul(g(v.av[i]), g(v.bv[j])))));
      }
  }
  body.push(inc(v.pak, g(v.sAkB)), inc(v.pbk, g(v.ldbB)), inc(v.k, i32.const(1)));
  const store = (accumulate: boolean): Code => {
    const out: Code[] = [];
    for (let i = 0; i < MR; i++) {
      out.push(
        set(
          v.pcr,
          i32.add(
            g(v.pC),
            i32.shl(
              i32.add(i32.mul(i32.add(g(v.m0), i32.const(i)), g(v.ldc)), g(v.n0)),
              i32.const(2),
            ),
          ),
        ),
      );
      if (scalar) {
        const val = accumulate ? f32.add(f32.load(g(v.pcr)), g(accs[i])) : g(accs[i]);
        out.push(f32.store(g(v.pcr), val));
      } else {
        for (let j = 0; j < NV; j++) {
          const c = g(accs[i * NV + j]);
          const val = accumulate ? f4.add(v128.load(g(v.pcr), 16 * j), c) : c;
          out.push(v128.store(g(v.pcr), val, 16 * j));
        }
      }
    }
    return out;
  };
  return [
    init,
    set(v.pak, i32.add(g(v.pA), i32.shl(i32.mul(g(v.m0), g(v.sAm)), i32.const(2)))),
    set(v.pbk, i32.add(g(v.pB), i32.shl(g(v.n0), i32.const(2)))),
    set(v.k, i32.const(0)),
    control.while(i32.ltS(g(v.k), g(v.K)), body),
    control.if(g(v.acc), store(true)),
    control.if(i32.eqz(g(v.acc)), store(false)),
    inc(v.n0, i32.const(scalar ? 1 : 4 * NV)),
  ];
}

function gemmFunction(): WasmFunction {
  const l = new Locals(11);
  const [M, N, K, pA, sAm, sAk, pB, ldb, pC, ldc, acc] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const i32s = (n: number) => Array.from({ length: n }, () => l.add("i32"));
  const [m0, n0, k, pak, pbk, pcr, sAkB, ldbB] = i32s(8);
  const off = [0, ...i32s(3)];
  const v = {
    K,
    pA,
    sAm,
    pB,
    pC,
    ldc,
    acc,
    m0,
    n0,
    k,
    pak,
    pbk,
    pcr,
    sAkB,
    ldbB,
    off,
    cv: Array.from({ length: 8 }, () => l.add("v128")),
    cs: Array.from({ length: 4 }, () => l.add("f32")),
    av: Array.from({ length: 4 }, () => l.add("v128")),
    bv: [l.add("v128"), l.add("v128")],
    bs: l.add("f32"),
    zero: l.f(0),
  };
  const rows = (MR: number): Code => [
    set(n0, i32.const(0)),
    control.while(i32.leS(i32.add(g(n0), i32.const(8)), g(N)), gemmBlock(MR, 2, v)),
    control.if(i32.leS(i32.add(g(n0), i32.const(4)), g(N)), gemmBlock(MR, 1, v)),
    control.while(i32.ltS(g(n0), g(N)), gemmBlock(MR, 0, v)),
    inc(m0, i32.const(MR)),
  ];
  const body: Code = [
    set(sAkB, i32.shl(g(sAk), i32.const(2))),
    set(ldbB, i32.shl(g(ldb), i32.const(2))),
    set(off[1], i32.shl(g(sAm), i32.const(2))),
    set(off[2], i32.shl(g(sAm), i32.const(3))),
    set(off[3], i32.mul(g(sAm), i32.const(12))),
    set(m0, i32.const(0)),
    control.while(i32.leS(i32.add(g(m0), i32.const(4)), g(M)), rows(4)),
    control.while(i32.ltS(g(m0), g(M)), rows(1)),
  ];
  return {
    name: "gemm",
    params: Array<"i32">(11).fill("i32"),
    locals: l.types,
    constants: l.constants,
    body: [body],
  };
}

/**
 * Code that writes Δ = softplus(raw + bias) for `count` rows from byte offset `from` (locals; rows
 * `stride` bytes apart, the four channels at that offset of each), raw read at pRaw, Δ written
 * at pOut: the scans make the Δ of a run of positions ahead of those positions' states.
 */
export function softplusRows(p: {
  pRaw: number;
  pOut: number;
  from: number;
  stride: number;
  count: Code;
  bias: number;
  temps: { q: number; end: number; raw: number; l: Locals; te: ExpTemps };
}): Code {
  const { q, end, raw, l, te } = p.temps;
  return [
    set(q, g(p.from)),
    set(end, i32.add(g(p.from), i32.mul(g(p.stride), p.count))),
    control.while(i32.ltS(g(q), g(end)), [
      set(raw, f4.add(v128.load(i32.add(g(p.pRaw), g(q))), g(p.bias))),
      v128.store(i32.add(g(p.pOut), g(q)), softplus4(raw, l, te)),
      inc(q, g(p.stride)),
    ]),
  ];
}

/**
 * The address of row n of a (rows, Ep) array at `base`, this channel group's four channels (all
 * three locals: the array, the group's byte offset g4, a row's bytes EpB): how the kernels read
 * the transposed parameters (A, the conv's weights) and add into their gradients.
 */
function groupRowAt(base: number, g4: number, EpB: number, n: number): Code {
  return i32.add(i32.add(g(base), g(g4)), i32.mul(g(EpB), i32.const(n)));
}

/** σ(x) = 1 / (1 + e^−x), four lanes (x must not be NaN). */
export function sigmoid4(x: Code, l: Locals, t: ReturnType<typeof expTemps>): Code {
  return f4.div(l.f(1), f4.add(l.f(1), exp4(f4.neg(x), t)));
}

/**
 * `scanFwd(L, Ep, T, pRaw, pBias, pAT, pB, ldB, pC, ldC, pU, pZ, hasZ, pD, pY, pDt, pS, pScr)`, one
 * batch element, channels in groups of four (Ep, the padded channel count, a multiple of 4):
 *
 *   Δ_t = softplus(raw_t + bias),  x_t = exp(Δ_t A) ⊙ x_{t−1} + Δ_t u_t B_t,
 *   y_t = (⟨C_t, x_t⟩ + D u_t) · silu(z_t)   (the gate only when hasZ)
 *
 * raw, u, z, y, Δ: (L, Ep); A as Aᵀ (N, Ep); B, C: (L, N) with row strides ldB, ldC; bias, D:
 * (Ep). Writes y, Δ (kept for the backward pass) and S (⌈L/T⌉, N, Ep), the state entering each
 * chunk of T positions (Mamba §3.3.2: only these are stored). Scr: 2N vectors of scratch (the
 * group's A and its state, read at constant offsets: fewer live registers than locals).
 *
 * `scanFwdLti` (lti = true) takes the same arguments with B and C time-invariant, given as Bᵀ and
 * Cᵀ (N, Ep) like A (ldB, ldC unread), and 4N vectors of scratch (the group's A, B, C and state).
 */
function scanForwardFunction(N: number, lti: boolean): WasmFunction {
  const l = new Locals(18);
  const [L, Ep, T, pRaw, pBias, pAT, pB, ldB, pC, ldC, pU, pZ, hasZ, pD, pY, pDt, pS, pScr] =
    Array.from({ length: 18 }, (_, i) => i);
  const i32s = (n: number) => Array.from({ length: n }, () => l.add("i32"));
  const [EpB, ldBB, ldCB, NEpB, g4, t, prow, pb, pc, cnt, psc, q, qEnd] = i32s(13);
  const vec = (n: number) => Array.from({ length: n }, () => l.add("v128"));
  const [hn, vb, vD, raw, dt, u, du, acc, y, zt] = vec(10);
  const te = expTemps(l);
  const at = (base: number): Code => i32.add(g(base), g(prow));
  // B_t[n], C_t[n]: one value splat over the four channels, or (lti) the group's vector
  const bOf = (n: number): Code =>
    lti ? v128.load(g(pScr), 16 * (N + n)) : v128.load32Splat(g(pb), 4 * n);
  const cOf = (n: number): Code =>
    lti ? v128.load(g(pScr), 16 * (2 * N + n)) : v128.load32Splat(g(pc), 4 * n);
  // The state lives in the scratch after A (and B, C), not in N locals: with locals, V8's compiler
  // interleaves the N exponentials of a position and spills most of their temporaries to the
  // stack; a load and a store per state keep each state's work in one piece (the forward ran
  // 1.9× faster at N = 16).
  const hAt = 16 * (lti ? 3 : 1) * N;
  const hOf = (n: number): Code => v128.load(g(pScr), hAt + 16 * n);
  const ns = Array.from({ length: N }, (_, n) => n);
  const step: Code[] = [];
  for (let n = 0; n < N; n++) {
    step.push(
      set(
        hn,
        f4.add(
          f4.mul(exp2NonPositive4(f4.mul(g(dt), v128.load(g(pScr), 16 * n)), te), hOf(n)),
          f4.mul(g(du), bOf(n)),
        ),
      ),
      v128.store(g(pScr), g(hn), hAt + 16 * n),
    );
    const term = f4.mul(g(hn), cOf(n));
    step.push(set(acc, n === 0 ? term : f4.add(g(acc), term)));
  }
  // Δ of the chunk's positions, ahead of their states: every state of a position waits for its Δ,
  // and a softplus made inside the position (a chain of about a hundred cycles) kept the states of
  // one position from overlapping those of the next (the forward ran 1.3× slower)
  const deltas = softplusRows({
    pRaw,
    pOut: pDt,
    from: prow,
    stride: EpB,
    count: i32.select(g(T), i32.sub(g(L), g(t)), i32.ltS(g(T), i32.sub(g(L), g(t)))),
    bias: vb,
    temps: { q, end: qEnd, raw, l, te },
  });
  const inner: Code = [
    control.if(i32.eqz(g(cnt)), [
      ns.map((n) => v128.store(i32.add(g(psc), i32.mul(g(EpB), i32.const(n))), hOf(n))),
      inc(psc, g(NEpB)),
      set(cnt, g(T)),
      deltas,
    ]),
    set(cnt, i32.sub(g(cnt), i32.const(1))),
    set(dt, v128.load(at(pDt))),
    set(u, v128.load(at(pU))),
    set(du, f4.mul(g(dt), g(u))),
    step,
    set(y, f4.add(g(acc), f4.mul(g(vD), g(u)))),
    control.if(g(hasZ), [
      set(zt, v128.load(at(pZ))),
      set(y, f4.mul(f4.mul(g(y), g(zt)), sigmoid4(g(zt), l, te))),
    ]),
    v128.store(at(pY), g(y)),
    inc(prow, g(EpB)),
    lti ? [] : [inc(pb, g(ldBB)), inc(pc, g(ldCB))],
    inc(t, i32.const(1)),
  ];
  // row n of a transposed (N, Ep) parameter, this group's four channels
  const groupRow = (base: number, n: number): Code => v128.load(groupRowAt(base, g4, EpB, n));
  const perGroup: Code = [
    // this group's A · log₂e (exp(Δ A) = 2^(Δ A log₂e)) and B, C, N vectors each, copied to the
    // scratch: read at constant offsets; its state starts at zero
    ns.map((n) => [
      v128.store(g(pScr), f4.mul(groupRow(pAT, n), l.f(Math.LOG2E)), 16 * n),
      v128.store(g(pScr), l.f(0), hAt + 16 * n),
      lti
        ? [
            v128.store(g(pScr), groupRow(pB, n), 16 * (N + n)),
            v128.store(g(pScr), groupRow(pC, n), 16 * (2 * N + n)),
          ]
        : [],
    ]),
    set(vb, v128.load(i32.add(g(pBias), g(g4)))),
    set(vD, v128.load(i32.add(g(pD), g(g4)))),
    set(prow, g(g4)),
    set(pb, g(pB)),
    set(pc, g(pC)),
    set(t, i32.const(0)),
    set(cnt, i32.const(0)),
    set(psc, i32.add(g(pS), g(g4))),
    control.while(i32.ltS(g(t), g(L)), inner),
    inc(g4, i32.const(16)),
  ];
  const body: Code = [
    set(EpB, i32.shl(g(Ep), i32.const(2))),
    set(ldBB, i32.shl(g(ldB), i32.const(2))),
    set(ldCB, i32.shl(g(ldC), i32.const(2))),
    set(NEpB, i32.mul(g(EpB), i32.const(N))),
    set(g4, i32.const(0)),
    control.while(i32.ltS(g(g4), g(EpB)), perGroup),
  ];
  return {
    name: lti ? "scanFwdLti" : "scanFwd",
    params: Array<"i32">(18).fill("i32"),
    locals: l.types,
    constants: l.constants,
    body: [body],
  };
}

/**
 * `scanBwd(L, Ep, T, chunks, pRaw, pBias, pDt, pAT, pB, ldB, pC, ldC, pU, pZ, hasZ, pD, pS, pDy,
 * pDu, pDdelta, pDz, pDA, pDD, pDbias, pDBv, pDCv, pXs, pAb, pScr)`: the backward pass of `scanFwd` for
 * one batch element (equations in `train/scan-backward.ts`), chunk by chunk from the last:
 * the states of a chunk are recomputed from its stored boundary state into the scratch Xs
 * ((T + 1) rows of N vectors) together with Ā = exp(Δ A) (Ab: T rows of N vectors, then two
 * vectors per position), then the adjoint recurrence h ← Ā h + g_o C walks the chunk backwards.
 *
 * Writes du, ddelta (∂ of raw, through softplus' = σ), dz (when hasZ): (L, Ep); accumulates (+=)
 * dA as (N, Ep), dD and dbias (Ep), and dB, dC per position and state as four-lane partial sums
 * (L, N, 4) (the caller adds the lanes: ∂B_t sums over channels). Scr: 3N + 2 vectors (the
 * group's A, its ∂A, the adjoint state, two sums over states).
 *
 * `scanBwdLti` (lti = true): B and C as Bᵀ, Cᵀ (N, Ep) (ldB, ldC unread), and dB, dC accumulated
 * (+=) as (N, Ep) like dA: in a time-invariant layer each channel has its own B and C, summed over
 * positions. Scr: 7N + 2 vectors (B, ∂B, C, ∂C besides the others).
 */
function scanBackwardFunction(N: number, lti: boolean): WasmFunction {
  const P = 29;
  const l = new Locals(P);
  const [L, Ep, T, chunks, pRaw, pBias, pDt, pAT, pB, ldB, pC, ldC, pU, pZ, hasZ, pD, pS] =
    Array.from({ length: 17 }, (_, i) => i);
  const [pDy, pDu, pDdelta, pDz, pDA, pDD, pDbias, pDBv, pDCv, pXs, pAb, pScr] = Array.from(
    { length: 12 },
    (_, i) => 17 + i,
  );
  const i32s = (n: number) => Array.from({ length: n }, () => l.add("i32"));
  const [EpB, ldBB, ldCB, NEpB, g4, c, start, len, j, prow, pb, pc, pbv, pcv, pxs, pab, psc, t] =
    i32s(18);
  const pGate = l.add("i32");
  const vec = (n: number) => Array.from({ length: n }, () => l.add("v128"));
  // the group's A · log₂e (scratch vectors 0..N−1; Ā = 2^(Δ A log₂e), as in the forward) and its
  // ∂A accumulator (N..2N−1) live in the scratch, read at constant offsets: fewer live registers
  // than locals; lti: B, ∂B, C, ∂C after them; then the adjoint state h (N vectors) and two
  // vectors the sums over states are stored to. As in the forward, h in N locals made V8
  // interleave the states' work and spill it to the stack, and sums whose only use is at the
  // position's end had their terms kept alive until then: each value stored as soon as it is
  // made keeps each state's work in one piece
  const aOf = (n: number): Code => v128.load(g(pScr), 16 * n);
  const scr = { dA: N, B: 2 * N, dB: 3 * N, C: 4 * N, dC: 5 * N, h: (lti ? 6 : 2) * N };
  const sums = 16 * (scr.h + N);
  const hadjOf = (n: number): Code => v128.load(g(pScr), 16 * (scr.h + n));
  const bOf = (n: number): Code =>
    lti ? v128.load(g(pScr), 16 * (scr.B + n)) : v128.load32Splat(g(pb), 4 * n);
  const cOf = (n: number): Code =>
    lti ? v128.load(g(pScr), 16 * (scr.C + n)) : v128.load32Splat(g(pc), 4 * n);
  /** base[n] += v (16 bytes at constant offset 16·n from the address in local `base`). */
  const addTo = (base: number, n: number, v: Code): Code =>
    v128.store(g(base), f4.add(v128.load(g(base), 16 * n), v), 16 * n);
  const ns = Array.from({ length: N }, (_, n) => n);
  const [vb, vD, dDacc, dbacc, dt, u, du, dy, gO, sumB, gdt, hn, hx, abv, zt, s, o, raw] = vec(18);
  const te = expTemps(l);
  const at = (base: number): Code => i32.add(g(base), g(prow));
  const rowB = 16 * N;
  // Per position, in the forward walk that recomputes the states: the output's adjoint
  // g_o = dy z σ(z) and softplus' = σ(raw), kept after the Ab rows (two vectors per position),
  // and ∂z, written. In the reverse walk every state of a position waits for g_o, and a σ made
  // there held back the next position's states; the 16-term sum o = C·x that ∂z needs is made
  // where x is
  const gateAt = (row: number): Code => i32.add(g(pGate), i32.shl(g(row), i32.const(5)));
  const recompute: Code = [
    set(dt, v128.load(at(pDt))),
    set(u, v128.load(at(pU))),
    set(du, f4.mul(g(dt), g(u))),
    ns.map((n) => [
      set(abv, exp2NonPositive4(f4.mul(g(dt), aOf(n)), te)),
      v128.store(g(pab), g(abv), 16 * n),
      set(hx, f4.add(f4.mul(g(abv), v128.load(g(pxs), 16 * n)), f4.mul(g(du), bOf(n)))),
      v128.store(g(pxs), g(hx), rowB + 16 * n),
      set(o, n === 0 ? f4.mul(cOf(n), g(hx)) : f4.add(g(o), f4.mul(cOf(n), g(hx)))),
    ]),
    control.if(g(hasZ), [
      set(zt, v128.load(at(pZ))),
      set(s, sigmoid4(g(zt), l, te)),
      set(dy, v128.load(at(pDy))),
      set(o, f4.add(g(o), f4.mul(g(vD), g(u)))),
      v128.store(
        at(pDz),
        f4.mul(
          f4.mul(f4.mul(g(dy), g(o)), g(s)),
          f4.add(l.f(1), f4.mul(g(zt), f4.sub(l.f(1), g(s)))),
        ),
      ),
      v128.store(gateAt(j), f4.mul(f4.mul(g(dy), g(zt)), g(s))),
    ]),
    set(raw, f4.add(v128.load(at(pRaw)), g(vb))),
    v128.store(gateAt(j), sigmoid4(g(raw), l, te), 16),
    inc(j, i32.const(1)),
    inc(prow, g(EpB)),
    lti ? [] : [inc(pb, g(ldBB)), inc(pc, g(ldCB))],
    inc(pxs, i32.const(rowB)),
    inc(pab, i32.const(rowB)),
  ];
  const perState: Code[] = [];
  for (let n = 0; n < N; n++) {
    const dC = f4.mul(g(gO), v128.load(g(pxs), rowB + 16 * n));
    perState.push(
      lti ? addTo(pScr, scr.dC + n, dC) : addTo(pcv, n, dC),
      set(hn, f4.add(hadjOf(n), f4.mul(g(gO), cOf(n)))),
      lti ? addTo(pScr, scr.dB + n, f4.mul(g(hn), g(du))) : addTo(pbv, n, f4.mul(g(hn), g(du))),
      set(sumB, f4.add(g(sumB), f4.mul(g(hn), bOf(n)))),
      v128.store(g(pScr), g(sumB), sums),
      set(abv, v128.load(g(pab), 16 * n)),
      set(hx, f4.mul(f4.mul(g(hn), v128.load(g(pxs), 16 * n)), g(abv))),
      set(gdt, f4.add(g(gdt), f4.mul(g(hx), aOf(n)))),
      v128.store(g(pScr), g(gdt), sums + 16),
      addTo(pScr, scr.dA + n, f4.mul(g(hx), g(dt))),
      v128.store(g(pScr), f4.mul(g(hn), g(abv)), 16 * (scr.h + n)),
    );
  }
  const reverse: Code = [
    set(j, i32.sub(g(j), i32.const(1))),
    set(t, i32.add(g(start), g(j))),
    set(prow, i32.add(g(g4), i32.mul(g(t), g(EpB)))),
    lti
      ? []
      : [
          set(pb, i32.add(g(pB), i32.mul(g(t), g(ldBB)))),
          set(pc, i32.add(g(pC), i32.mul(g(t), g(ldCB)))),
          set(pbv, i32.add(g(pDBv), i32.mul(g(t), i32.const(rowB)))),
          set(pcv, i32.add(g(pDCv), i32.mul(g(t), i32.const(rowB)))),
        ],
    set(pxs, i32.add(g(pXs), i32.mul(g(j), i32.const(rowB)))),
    set(pab, i32.add(g(pAb), i32.mul(g(j), i32.const(rowB)))),
    set(dt, v128.load(at(pDt))),
    set(u, v128.load(at(pU))),
    set(du, f4.mul(g(dt), g(u))),
    set(gO, v128.load(at(pDy))),
    control.if(g(hasZ), set(gO, v128.load(gateAt(j)))),
    set(dDacc, f4.add(g(dDacc), f4.mul(g(gO), g(u)))),
    set(sumB, l.f(0)),
    set(gdt, l.f(0)),
    perState,
    v128.store(at(pDu), f4.add(f4.mul(g(gO), g(vD)), f4.mul(g(dt), g(sumB)))),
    // gdt summed terms in A · log₂e: times ln 2 gives Σₙ hₙ xₙ Āₙ Aₙ
    set(
      gdt,
      f4.mul(
        f4.add(f4.mul(g(gdt), l.f(Math.LN2)), f4.mul(g(u), g(sumB))),
        v128.load(gateAt(j), 16),
      ),
    ),
    v128.store(at(pDdelta), g(gdt)),
    set(dbacc, f4.add(g(dbacc), g(gdt))),
  ];
  const perChunk: Code = [
    set(c, i32.sub(g(c), i32.const(1))),
    set(start, i32.mul(g(c), g(T))),
    set(len, i32.sub(g(L), g(start))),
    set(len, i32.select(g(len), g(T), i32.ltS(g(len), g(T)))),
    set(psc, i32.add(i32.add(g(pS), i32.mul(g(c), g(NEpB))), g(g4))),
    ns.map((n) =>
      v128.store(g(pXs), v128.load(i32.add(g(psc), i32.mul(g(EpB), i32.const(n)))), 16 * n),
    ),
    set(j, i32.const(0)),
    set(prow, i32.add(g(g4), i32.mul(g(start), g(EpB)))),
    lti
      ? []
      : [
          set(pb, i32.add(g(pB), i32.mul(g(start), g(ldBB)))),
          set(pc, i32.add(g(pC), i32.mul(g(start), g(ldCB)))),
        ],
    set(pxs, g(pXs)),
    set(pab, g(pAb)),
    control.while(i32.ltS(g(j), g(len)), recompute),
    set(j, g(len)),
    control.while(i32.gtS(g(j), i32.const(0)), reverse),
  ];
  // row n of a transposed (N, Ep) array, this group's four channels
  const aAddr = (n: number, base: number): Code => groupRowAt(base, g4, EpB, n);
  /** The scratch accumulator `slot` (N vectors) added into the (N, Ep) array at `base`. */
  const flush = (slot: number, base: number): Code =>
    ns.map((n) =>
      v128.store(
        aAddr(n, base),
        f4.add(v128.load(aAddr(n, base)), v128.load(g(pScr), 16 * (slot + n))),
      ),
    );
  const perGroup: Code = [
    ns.map((n) => [
      v128.store(g(pScr), f4.mul(v128.load(aAddr(n, pAT)), l.f(Math.LOG2E)), 16 * n),
      v128.store(g(pScr), l.f(0), 16 * (scr.dA + n)),
      lti
        ? [
            v128.store(g(pScr), v128.load(aAddr(n, pB)), 16 * (scr.B + n)),
            v128.store(g(pScr), l.f(0), 16 * (scr.dB + n)),
            v128.store(g(pScr), v128.load(aAddr(n, pC)), 16 * (scr.C + n)),
            v128.store(g(pScr), l.f(0), 16 * (scr.dC + n)),
          ]
        : [],
    ]),
    ns.map((n) => v128.store(g(pScr), l.f(0), 16 * (scr.h + n))),
    set(vb, v128.load(i32.add(g(pBias), g(g4)))),
    set(vD, v128.load(i32.add(g(pD), g(g4)))),
    set(dDacc, l.f(0)),
    set(dbacc, l.f(0)),
    set(c, g(chunks)),
    control.while(i32.gtS(g(c), i32.const(0)), perChunk),
    flush(scr.dA, pDA),
    lti ? [flush(scr.dB, pDBv), flush(scr.dC, pDCv)] : [],
    v128.store(i32.add(g(pDD), g(g4)), f4.add(v128.load(i32.add(g(pDD), g(g4))), g(dDacc))),
    v128.store(i32.add(g(pDbias), g(g4)), f4.add(v128.load(i32.add(g(pDbias), g(g4))), g(dbacc))),
    inc(g4, i32.const(16)),
  ];
  const body: Code = [
    set(EpB, i32.shl(g(Ep), i32.const(2))),
    set(ldBB, i32.shl(g(ldB), i32.const(2))),
    set(ldCB, i32.shl(g(ldC), i32.const(2))),
    set(NEpB, i32.mul(g(EpB), i32.const(N))),
    set(pGate, i32.add(g(pAb), i32.mul(g(T), i32.const(rowB)))),
    set(g4, i32.const(0)),
    control.while(i32.ltS(g(g4), g(EpB)), perGroup),
  ];
  return {
    name: lti ? "scanBwdLti" : "scanBwd",
    params: Array<"i32">(P).fill("i32"),
    locals: l.types,
    constants: l.constants,
    body: [body],
  };
}

function siluFunction(backward: boolean): WasmFunction {
  // silu(n4, pX, pY) / siluBack(n4, pX, pG, pOut)
  const nP = backward ? 4 : 3;
  const l = new Locals(nP);
  const q = l.add("i32");
  const end = l.add("i32");
  const x = l.add("v128");
  const s = l.add("v128");
  const te = expTemps(l);
  const off = (p: number): Code => i32.add(g(p), g(q));
  const loop: Code = [
    set(x, v128.load(off(1))),
    set(s, sigmoid4(g(x), l, te)),
    backward
      ? v128.store(
          off(3),
          f4.mul(
            f4.mul(v128.load(off(2)), g(s)),
            f4.add(l.f(1), f4.mul(g(x), f4.sub(l.f(1), g(s)))),
          ),
        )
      : v128.store(off(2), f4.mul(g(x), g(s))),
    inc(q, i32.const(16)),
  ];
  return {
    name: backward ? "siluBack" : "silu",
    params: Array<"i32">(nP).fill("i32"),
    locals: l.types,
    constants: l.constants,
    body: [
      set(q, i32.const(0)),
      set(end, i32.shl(g(0), i32.const(4))),
      control.while(i32.ltS(g(q), g(end)), loop),
    ],
  };
}

/**
 * The conv module for K taps ({@link causalConvModuleBytes}), four channels per vector, the
 * weight transposed to (K, Ep), one batch element in the (L, Ep) layout:
 *
 * `convFwd(L, Ep, pX, pWT, pBias, pY)`: the causal depthwise conv y_t = bias + Σ_j w_j ⊙
 * x_{t−(K−1)+j} (terms with a negative position are zero).
 *
 * `convBwd(L, Ep, pX, pG, pWT, pDx, pDwT, pDb)`: its backward, ∂x_s = Σ_j w_j ⊙ g_{s+(K−1)−j}
 * (written), ∂w_j += Σ_t g_t ⊙ x_{t−(K−1)+j}, ∂bias += Σ_t g_t (accumulated, (K, Ep) and (Ep)).
 *
 * Unrolled for K: a group's K weights and K sums stay in registers and the last K inputs
 * (gradients) slide through K more, so each position loads x_t (and g_t) once and writes each
 * output once. The kernels that looped over a run-time K, with ∂x and ∂w added into memory at
 * every position, ran several times slower.
 */
function convFunctions(K: number): WasmFunction[] {
  const taps = Array.from({ length: K }, (_, j) => j);
  const fwd = (() => {
    const l = new Locals(6);
    const [L, Ep, pX, pWT, pBias, pY] = [0, 1, 2, 3, 4, 5];
    const [EpB, g4, t, px, py] = Array.from({ length: 5 }, () => l.add("i32"));
    const w = taps.map(() => l.add("v128"));
    // r[j]: the input at position t − (K − 1) + j once x_t is in
    const r = taps.map(() => l.add("v128"));
    const [bias, acc] = [l.add("v128"), l.add("v128")];
    const perGroup: Code = [
      taps.map((j) => [set(w[j], v128.load(groupRowAt(pWT, g4, EpB, j))), set(r[j], l.f(0))]),
      set(bias, v128.load(i32.add(g(pBias), g(g4)))),
      set(px, i32.add(g(pX), g(g4))),
      set(py, i32.add(g(pY), g(g4))),
      set(t, i32.const(0)),
      control.while(i32.ltS(g(t), g(L)), [
        taps.slice(0, K - 1).map((j) => set(r[j], g(r[j + 1]))),
        set(r[K - 1], v128.load(g(px))),
        set(acc, g(bias)),
        taps.map((j) => set(acc, f4.add(g(acc), f4.mul(g(w[j]), g(r[j]))))),
        v128.store(g(py), g(acc)),
        inc(px, g(EpB)),
        inc(py, g(EpB)),
        inc(t, i32.const(1)),
      ]),
      inc(g4, i32.const(16)),
    ];
    return {
      name: "convFwd",
      params: Array<"i32">(6).fill("i32"),
      locals: l.types,
      constants: l.constants,
      body: [
        set(EpB, i32.shl(g(Ep), i32.const(2))),
        set(g4, i32.const(0)),
        control.while(i32.ltS(g(g4), g(EpB)), perGroup),
      ],
    };
  })();
  const bwd = (() => {
    const l = new Locals(8);
    const [L, Ep, pX, pG, pWT, pDx, pDwT, pDb] = [0, 1, 2, 3, 4, 5, 6, 7];
    const [EpB, g4, t, px, pg, pdx, end] = Array.from({ length: 7 }, () => l.add("i32"));
    const w = taps.map(() => l.add("v128"));
    // r[j] = x_{t−(K−1)+j} as in the forward; q[j] = g_{t−j}; dw[j] the sums of ∂w_j
    const r = taps.map(() => l.add("v128"));
    const q = taps.map(() => l.add("v128"));
    const dw = taps.map(() => l.add("v128"));
    const [gt, db, dx] = [l.add("v128"), l.add("v128"), l.add("v128")];
    const row = (base: number, j: number): Code => groupRowAt(base, g4, EpB, j);
    // g_t enters the window; ∂x_{t−(K−1)} = Σ_j w_j ⊙ g_{t−j} is then complete
    const shiftG = (value: Code): Code => [
      taps
        .slice(1)
        .reverse()
        .map((j) => set(q[j], g(q[j - 1]))),
      set(q[0], value),
      set(dx, f4.mul(g(w[0]), g(q[0]))),
      taps.slice(1).map((j) => set(dx, f4.add(g(dx), f4.mul(g(w[j]), g(q[j]))))),
    ];
    const perGroup: Code = [
      taps.map((j) => [
        set(w[j], v128.load(row(pWT, j))),
        set(r[j], l.f(0)),
        set(q[j], l.f(0)),
        set(dw[j], l.f(0)),
      ]),
      set(db, l.f(0)),
      set(px, i32.add(g(pX), g(g4))),
      set(pg, i32.add(g(pG), g(g4))),
      // ∂x of position t − (K − 1), written from t = K − 1 on
      set(pdx, i32.sub(i32.add(g(pDx), g(g4)), i32.mul(g(EpB), i32.const(K - 1)))),
      set(t, i32.const(0)),
      control.while(i32.ltS(g(t), g(L)), [
        taps.slice(0, K - 1).map((j) => set(r[j], g(r[j + 1]))),
        set(r[K - 1], v128.load(g(px))),
        set(gt, v128.load(g(pg))),
        set(db, f4.add(g(db), g(gt))),
        taps.map((j) => set(dw[j], f4.add(g(dw[j]), f4.mul(g(gt), g(r[j]))))),
        shiftG(g(gt)),
        control.if(i32.geS(g(t), i32.const(K - 1)), v128.store(g(pdx), g(dx))),
        inc(px, g(EpB)),
        inc(pg, g(EpB)),
        inc(pdx, g(EpB)),
        inc(t, i32.const(1)),
      ]),
      // the last K − 1 positions' ∂x: gradients past the end are zero
      set(end, i32.add(g(L), i32.const(K - 1))),
      control.while(i32.ltS(g(t), g(end)), [
        shiftG(l.f(0)),
        control.if(i32.geS(g(t), i32.const(K - 1)), v128.store(g(pdx), g(dx))),
        inc(pdx, g(EpB)),
        inc(t, i32.const(1)),
      ]),
      taps.map((j) => v128.store(row(pDwT, j), f4.add(v128.load(row(pDwT, j)), g(dw[j])))),
      v128.store(i32.add(g(pDb), g(g4)), f4.add(v128.load(i32.add(g(pDb), g(g4))), g(db))),
      inc(g4, i32.const(16)),
    ];
    return {
      name: "convBwd",
      params: Array<"i32">(8).fill("i32"),
      locals: l.types,
      constants: l.constants,
      body: [
        set(EpB, i32.shl(g(Ep), i32.const(2))),
        set(g4, i32.const(0)),
        control.while(i32.ltS(g(g4), g(EpB)), perGroup),
      ],
    };
  })();
  return [fwd, bwd];
}

/**
 * `name(n4, pA, pB, pOut)`: out = op(a, b) elementwise over 4·n4 values (the simd backend's `add`
 * here, the attention module's `mul`).
 */
export function elementwiseFunction(name: string, op: (a: Code, b: Code) => Code): WasmFunction {
  const l = new Locals(4);
  const [n4, pA, pB, pOut] = [0, 1, 2, 3];
  const [q, end] = [l.add("i32"), l.add("i32")];
  const at = (p: number): Code => i32.add(g(p), g(q));
  return {
    name,
    params: ["i32", "i32", "i32", "i32"],
    locals: l.types,
    constants: l.constants,
    body: [
      set(q, i32.const(0)),
      set(end, i32.shl(g(n4), i32.const(4))),
      control.while(i32.ltS(g(q), g(end)), [
        v128.store(at(pOut), op(v128.load(at(pA)), v128.load(at(pB)))),
        inc(q, i32.const(16)),
      ]),
    ],
  };
}

/**
 * `copyRows(rows, width, pSrc, srcStride, pDst, dstStride)`: see the module comment. Four values
 * per vector load and store, then single values for the last width mod 4 of each row (rows are
 * short, tens to hundreds of values: a `memory.copy` per row costs more in its call than in its
 * copy).
 */
function copyRowsFunction(): WasmFunction {
  const l = new Locals(6);
  const [rows, width, pSrc, srcStride, pDst, dstStride] = [0, 1, 2, 3, 4, 5];
  const [r, vecEnd, end, q, srcB, dstB] = Array.from({ length: 6 }, () => l.add("i32"));
  return {
    name: "copyRows",
    params: Array<"i32">(6).fill("i32"),
    locals: l.types,
    constants: l.constants,
    body: [
      set(end, i32.shl(g(width), i32.const(2))),
      set(vecEnd, i32.and(g(end), i32.const(-16))),
      set(srcB, i32.shl(g(srcStride), i32.const(2))),
      set(dstB, i32.shl(g(dstStride), i32.const(2))),
      set(r, i32.const(0)),
      control.while(i32.ltS(g(r), g(rows)), [
        set(q, i32.const(0)),
        control.while(i32.ltS(g(q), g(vecEnd)), [
          v128.store(i32.add(g(pDst), g(q)), v128.load(i32.add(g(pSrc), g(q)))),
          inc(q, i32.const(16)),
        ]),
        control.while(i32.ltS(g(q), g(end)), [
          f32.store(i32.add(g(pDst), g(q)), f32.load(i32.add(g(pSrc), g(q)))),
          inc(q, i32.const(4)),
        ]),
        inc(pSrc, g(srcB)),
        inc(pDst, g(dstB)),
        inc(r, i32.const(1)),
      ]),
    ],
  };
}

/** The sum of the four lanes of a vector (a float32 on the stack). */
export function laneSum(v: Code): Code {
  return f32.add(
    f32.add(f4.extractLane(v, 0), f4.extractLane(v, 1)),
    f32.add(f4.extractLane(v, 2), f4.extractLane(v, 3)),
  );
}

/**
 * A loop over the d values of a row: `vector(q)` for each whole vector of four (q the byte offset
 * in the row), then `scalar(q)` for the last d mod 4 values (rows need not be 16-byte aligned).
 */
export function rowLoop(
  q: number,
  dB: number,
  d4B: number,
  vector: (q: Code) => Code,
  scalar: (q: Code) => Code,
): Code {
  return [
    set(q, i32.const(0)),
    control.while(i32.ltS(g(q), g(d4B)), [vector(g(q)), inc(q, i32.const(16))]),
    control.while(i32.ltS(g(q), g(dB)), [scalar(g(q)), inc(q, i32.const(4))]),
  ];
}

/**
 * `rmsNorm(rows, d, pX, pW, eps, pY)`: y = x · r · w per row of d values, r = 1/√(mean(x²) + eps).
 * `rmsNormBack(rows, d, pX, pW, eps, pG, pDx, pDw)`: its backward (equations in
 * `ops/reference/backward.ts`): writes dx = r (g ⊙ w − x r² (1/d) Σ g w x) and adds Σ_rows g x r
 * into dw (d), in float32: the caller sums slabs of rows into float64.
 */
function rmsNormFunctions(): WasmFunction[] {
  const fwd = ((): WasmFunction => {
    const l = new Locals(6);
    const [rows, d, pX, pW, eps, pY] = [0, 1, 2, 3, 4, 5];
    const [r, q, dB, d4B] = Array.from({ length: 4 }, () => l.add("i32"));
    const [ss, x, inv] = [l.add("f32"), l.add("f32"), l.add("f32")];
    const [acc, v, vinv] = [l.add("v128"), l.add("v128"), l.add("v128")];
    const at = (p: number, off: Code): Code => i32.add(g(p), off);
    return {
      name: "rmsNorm",
      params: ["i32", "i32", "i32", "i32", "f32", "i32"],
      locals: l.types,
      constants: l.constants,
      body: [
        set(dB, i32.shl(g(d), i32.const(2))),
        set(d4B, i32.and(g(dB), i32.const(-16))),
        set(r, i32.const(0)),
        control.while(i32.ltS(g(r), g(rows)), [
          set(acc, l.f(0)),
          set(ss, f32.const(0)),
          rowLoop(
            q,
            dB,
            d4B,
            (o) => [set(v, v128.load(at(pX, o))), set(acc, f4.add(g(acc), f4.mul(g(v), g(v))))],
            (o) => [set(x, f32.load(at(pX, o))), set(ss, f32.add(g(ss), f32.mul(g(x), g(x))))],
          ),
          set(ss, f32.add(g(ss), laneSum(g(acc)))),
          set(
            inv,
            f32.div(f32.const(1), f32.sqrt(f32.add(f32.div(g(ss), f32.fromI32(g(d))), g(eps)))),
          ),
          set(vinv, f4.splat(g(inv))),
          rowLoop(
            q,
            dB,
            d4B,
            (o) =>
              v128.store(
                at(pY, o),
                f4.mul(f4.mul(v128.load(at(pX, o)), g(vinv)), v128.load(i32.add(g(pW), o))),
              ),
            (o) =>
              f32.store(
                at(pY, o),
                f32.mul(f32.mul(f32.load(at(pX, o)), g(inv)), f32.load(i32.add(g(pW), o))),
              ),
          ),
          inc(pX, g(dB)),
          inc(pY, g(dB)),
          inc(r, i32.const(1)),
        ]),
      ],
    };
  })();
  const bwd = ((): WasmFunction => {
    const l = new Locals(8);
    const [rows, d, pX, pW, eps, pG, pDx, pDw] = [0, 1, 2, 3, 4, 5, 6, 7];
    const [r, q, dB, d4B] = Array.from({ length: 4 }, () => l.add("i32"));
    const [ss, dot, rs, k, x, gg] = Array.from({ length: 6 }, () => l.add("f32"));
    const [accS, accD, vx, vg, vr, vk] = Array.from({ length: 6 }, () => l.add("v128"));
    const at = (p: number, off: Code): Code => i32.add(g(p), off);
    const w4 = (o: Code): Code => v128.load(i32.add(g(pW), o));
    const w1 = (o: Code): Code => f32.load(i32.add(g(pW), o));
    return {
      name: "rmsNormBack",
      params: ["i32", "i32", "i32", "i32", "f32", "i32", "i32", "i32"],
      locals: l.types,
      constants: l.constants,
      body: [
        set(dB, i32.shl(g(d), i32.const(2))),
        set(d4B, i32.and(g(dB), i32.const(-16))),
        set(r, i32.const(0)),
        control.while(i32.ltS(g(r), g(rows)), [
          set(accS, l.f(0)),
          set(accD, l.f(0)),
          set(ss, f32.const(0)),
          set(dot, f32.const(0)),
          rowLoop(
            q,
            dB,
            d4B,
            (o) => [
              set(vx, v128.load(at(pX, o))),
              set(accS, f4.add(g(accS), f4.mul(g(vx), g(vx)))),
              set(accD, f4.add(g(accD), f4.mul(f4.mul(v128.load(at(pG, o)), w4(o)), g(vx)))),
            ],
            (o) => [
              set(x, f32.load(at(pX, o))),
              set(ss, f32.add(g(ss), f32.mul(g(x), g(x)))),
              set(dot, f32.add(g(dot), f32.mul(f32.mul(f32.load(at(pG, o)), w1(o)), g(x)))),
            ],
          ),
          set(ss, f32.add(g(ss), laneSum(g(accS)))),
          set(dot, f32.add(g(dot), laneSum(g(accD)))),
          set(
            rs,
            f32.div(f32.const(1), f32.sqrt(f32.add(f32.div(g(ss), f32.fromI32(g(d))), g(eps)))),
          ),
          set(
            k,
            f32.div(f32.mul(f32.mul(f32.mul(g(rs), g(rs)), g(rs)), g(dot)), f32.fromI32(g(d))),
          ),
          set(vr, f4.splat(g(rs))),
          set(vk, f4.splat(g(k))),
          rowLoop(
            q,
            dB,
            d4B,
            (o) => [
              set(vx, v128.load(at(pX, o))),
              set(vg, v128.load(at(pG, o))),
              v128.store(
                i32.add(g(pDw), o),
                f4.add(v128.load(i32.add(g(pDw), o)), f4.mul(f4.mul(g(vg), g(vx)), g(vr))),
              ),
              v128.store(
                at(pDx, o),
                f4.sub(f4.mul(f4.mul(g(vr), g(vg)), w4(o)), f4.mul(g(vk), g(vx))),
              ),
            ],
            (o) => [
              set(x, f32.load(at(pX, o))),
              set(gg, f32.load(at(pG, o))),
              f32.store(
                i32.add(g(pDw), o),
                f32.add(f32.load(i32.add(g(pDw), o)), f32.mul(f32.mul(g(gg), g(x)), g(rs))),
              ),
              f32.store(
                at(pDx, o),
                f32.sub(f32.mul(f32.mul(g(rs), g(gg)), w1(o)), f32.mul(g(k), g(x))),
              ),
            ],
          ),
          inc(pX, g(dB)),
          inc(pG, g(dB)),
          inc(pDx, g(dB)),
          inc(r, i32.const(1)),
        ]),
      ],
    };
  })();
  return [fwd, bwd];
}

/** `sumLanes(n, pIn, pOut)`: out[i] = the sum of the four lanes of vector i of in, i < n. */
function sumLanesFunction(): WasmFunction {
  const l = new Locals(3);
  const [n, pIn, pOut] = [0, 1, 2];
  const i = l.add("i32");
  return {
    name: "sumLanes",
    params: ["i32", "i32", "i32"],
    locals: l.types,
    constants: l.constants,
    body: [
      set(i, i32.const(0)),
      control.while(i32.ltS(g(i), g(n)), [
        f32.store(g(pOut), laneSum(v128.load(g(pIn)))),
        inc(pIn, i32.const(16)),
        inc(pOut, i32.const(4)),
        inc(i, i32.const(1)),
      ]),
    ],
  };
}

/**
 * `ssdStep(P, N, pS, pB, pC, decay, pDx, pY)`: one position of Mamba-2's SSD on one head, in one
 * pass over its state (P rows of N): per row p, h ← decay · h + dx_p B (h at pS + 4·p·N, updated
 * in place), y_p = h · C, with B, C (N) and dx, y (P). Four states per vector, then single values
 * for the last N mod 4.
 */
function ssdStepFunction(): WasmFunction {
  const l = new Locals(8);
  const [P, N, pS, pB, pC, decay, pDx, pY] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [r, q, nB, n4B] = Array.from({ length: 4 }, () => l.add("i32"));
  const [dx, hs, ys] = [l.add("f32"), l.add("f32"), l.add("f32")];
  const [acc, h, vDecay, vDx] = [l.add("v128"), l.add("v128"), l.add("v128"), l.add("v128")];
  return {
    name: "ssdStep",
    params: ["i32", "i32", "i32", "i32", "i32", "f32", "i32", "i32"],
    locals: l.types,
    constants: l.constants,
    body: [
      set(nB, i32.shl(g(N), i32.const(2))),
      set(n4B, i32.and(g(nB), i32.const(-16))),
      set(vDecay, f4.splat(g(decay))),
      set(r, i32.const(0)),
      control.while(i32.ltS(g(r), g(P)), [
        set(dx, f32.load(g(pDx))),
        set(vDx, f4.splat(g(dx))),
        set(acc, l.f(0)),
        set(ys, f32.const(0)),
        rowLoop(
          q,
          nB,
          n4B,
          (o) => [
            set(
              h,
              f4.add(
                f4.mul(g(vDecay), v128.load(i32.add(g(pS), o))),
                f4.mul(g(vDx), v128.load(i32.add(g(pB), o))),
              ),
            ),
            v128.store(i32.add(g(pS), o), g(h)),
            set(acc, f4.add(g(acc), f4.mul(g(h), v128.load(i32.add(g(pC), o))))),
          ],
          (o) => [
            set(
              hs,
              f32.add(
                f32.mul(g(decay), f32.load(i32.add(g(pS), o))),
                f32.mul(g(dx), f32.load(i32.add(g(pB), o))),
              ),
            ),
            f32.store(i32.add(g(pS), o), g(hs)),
            set(ys, f32.add(g(ys), f32.mul(g(hs), f32.load(i32.add(g(pC), o))))),
          ],
        ),
        f32.store(g(pY), f32.add(laneSum(g(acc)), g(ys))),
        inc(pS, g(nB)),
        inc(pDx, i32.const(4)),
        inc(pY, i32.const(4)),
        inc(r, i32.const(1)),
      ]),
    ],
  };
}

function peakFunction(): WasmFunction {
  // seven multiply chains (p ← p·m) and seven add chains (q ← q + a), all independent: with a
  // latency of about 3 cycles per operation, 14 chains keep every multiply and add unit busy
  const l = new Locals(2);
  const it = l.add("i32");
  const muls = Array.from({ length: 7 }, () => l.add("v128"));
  const adds = Array.from({ length: 7 }, () => l.add("v128"));
  const all = [...muls, ...adds];
  const body: Code = [
    all.map((c, i) => set(c, f4.const(1 + i))),
    set(it, i32.const(0)),
    control.while(i32.ltS(g(it), g(0)), [
      muls.map((c) => set(c, f4.mul(g(c), l.f(1 + 2 ** -23)))),
      adds.map((c) => set(c, f4.add(g(c), l.f(1e-7)))),
      inc(it, i32.const(1)),
    ]),
    v128.store(
      g(1),
      all.slice(1).reduce<Code>((s, c) => f4.add(s, g(c)), g(all[0])),
    ),
  ];
  return {
    name: "peak",
    params: ["i32", "i32"],
    locals: l.types,
    constants: l.constants,
    body: [body],
  };
}

/** The module of the kernels that do not depend on the state size (see the module comment). */
export function coreModuleBytes(memory: ModuleMemory): Uint8Array {
  return assembleModule(
    [
      gemmFunction(),
      siluFunction(false),
      siluFunction(true),
      elementwiseFunction("add", f4.add),
      copyRowsFunction(),
      ...rmsNormFunctions(),
      sumLanesFunction(),
      ssdStepFunction(),
      peakFunction(),
    ],
    memory,
  );
}

/** The module of the causal conv kernels for K taps (see the module comment). */
export function causalConvModuleBytes(K: number, memory: ModuleMemory): Uint8Array {
  return assembleModule(convFunctions(K), memory);
}

/** The module of the selective scan kernels for state size N (see the module comment). */
export function scanModuleBytes(N: number, memory: ModuleMemory): Uint8Array {
  return assembleModule(
    [
      scanForwardFunction(N, false),
      scanBackwardFunction(N, false),
      scanForwardFunction(N, true),
      scanBackwardFunction(N, true),
    ],
    memory,
  );
}
