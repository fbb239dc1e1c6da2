/**
 * The WebAssembly SIMD kernels of the fast selective scan, generated for a given number of
 * state groups G = ⌈n / 4⌉ (each group is one 128-bit vector of four float32 states, so the
 * state of a channel lives in G registers for a whole tile of positions).
 *
 * Exported functions (all addresses are byte offsets into the module's memory, all arrays float32):
 * - `prep(rows, Lp, pDt, pBias, softplus)`: Δ ← delta + bias[row], then softplus if asked, in place;
 *   rows of Lp (a multiple of 4) values.
 * - `scan(rows, L, Lp, tile, pA, pBT, pCT, pU, pDt, pOut, pState)`: the recurrence
 *   h ← exp(Δ_t · A) ⊙ h + (Δ_t · u_t) · B_t,  y_t = ⟨h, C_t⟩, for `rows` channels of one batch
 *   element, positions in tiles of `tile` (B and C of a tile stay in L1 cache while every channel
 *   walks it). A: rows × 4G; BT, CT: positions × 4G (B and C transposed, zero-padded); state:
 *   rows × 4G, read at the start and written at the end.
 * - `post(rows, Lp, pOut, pU, pZ, pD, hasZ)`: out ← (y + D[row] · u) · silu(z) (gate optional).
 * - `expLoop(count4, pX, pY)`: y = exp(x) over 4·count4 values, the scan's own exp; used to
 *   measure this machine's exp throughput.
 * - `sumLoop(count4, p, pResult)`: sums 4·count4 values (streaming reads); used to measure memory
 *   bandwidth.
 *
 * exp and softplus are the vector math of `ops/simd/wasm-math.ts` (shared with the simd backend).
 */
import {
  type Code,
  type WasmFunction,
  assembleModule,
  control,
  f32,
  f4,
  i32,
  local,
  v128,
} from "../ops/simd/wasm";
import { Locals, exp4, expTemps, softplus4 } from "../ops/simd/wasm-math";

function prepFunction(): WasmFunction {
  // params: rows, Lp, pDt, pBias, softplus
  const l = new Locals(5);
  const [rows, Lp, pDt, pBias, sp] = [0, 1, 2, 3, 4];
  const r = l.add("i32");
  const p = l.add("i32");
  const pend = l.add("i32");
  const vb = l.add("v128");
  const v = l.add("v128");
  const t = expTemps(l);
  const softCode = softplus4(v, l, t);
  const g = local.get;
  const loop = (withSoftplus: boolean): Code =>
    control.while(i32.ltU(g(p), g(pend)), [
      local.set(v, f4.add(v128.load(g(p)), g(vb))),
      withSoftplus ? local.set(v, softCode) : [],
      v128.store(g(p), g(v)),
      local.set(p, i32.add(g(p), i32.const(16))),
    ]);
  const body: Code = [
    local.set(r, i32.const(0)),
    control.while(i32.ltS(g(r), g(rows)), [
      local.set(vb, f4.splat(f32.load(i32.add(g(pBias), i32.shl(g(r), i32.const(2)))))),
      local.set(p, i32.add(g(pDt), i32.shl(i32.mul(g(r), g(Lp)), i32.const(2)))),
      local.set(pend, i32.add(g(p), i32.shl(g(Lp), i32.const(2)))),
      control.if(g(sp), loop(true)),
      control.if(i32.eqz(g(sp)), loop(false)),
      local.set(r, i32.add(g(r), i32.const(1))),
    ]),
  ];
  return {
    name: "prep",
    params: ["i32", "i32", "i32", "i32", "i32"],
    locals: l.types,
    constants: l.constants,
    body: [body],
  };
}

function scanFunction(G: number): WasmFunction {
  // params: rows, L, Lp, tile, pA, pBT, pCT, pU, pDt, pOut, pState
  const l = new Locals(11);
  const [rows, L, Lp, tile, pA, pBT, pCT, pU, pDt, pOut, pState] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
  ];
  const t0 = l.add("i32");
  const tend = l.add("i32");
  const r = l.add("i32");
  const pu = l.add("i32");
  const pd = l.add("i32");
  const po = l.add("i32");
  const pb = l.add("i32");
  const pc = l.add("i32");
  const pend = l.add("i32");
  const sA = l.add("i32");
  const sS = l.add("i32");
  const rowOff = l.add("i32");
  const dt = l.add("f32");
  const vdt = l.add("v128");
  const vdu = l.add("v128");
  const acc = l.add("v128");
  const t = expTemps(l);
  const a = Array.from({ length: G }, () => l.add("v128"));
  const h = Array.from({ length: G }, () => l.add("v128"));
  const g = local.get;
  const rowBytes = 16 * G;
  const stepGroups: Code[] = [];
  for (let k = 0; k < G; k++) {
    stepGroups.push(
      local.set(
        h[k],
        f4.add(
          f4.mul(exp4(f4.mul(g(vdt), g(a[k])), t), g(h[k])),
          f4.mul(g(vdu), v128.load(g(pb), 16 * k)),
        ),
      ),
    );
    const term = f4.mul(g(h[k]), v128.load(g(pc), 16 * k));
    stepGroups.push(local.set(acc, k === 0 ? term : f4.add(g(acc), term)));
  }
  const inner: Code = control.while(i32.ltU(g(pd), g(pend)), [
    local.set(dt, f32.load(g(pd))),
    local.set(vdt, f4.splat(g(dt))),
    local.set(vdu, f4.splat(f32.mul(g(dt), f32.load(g(pu))))),
    stepGroups,
    f32.store(
      g(po),
      f32.add(
        f32.add(f4.extractLane(g(acc), 0), f4.extractLane(g(acc), 1)),
        f32.add(f4.extractLane(g(acc), 2), f4.extractLane(g(acc), 3)),
      ),
    ),
    local.set(pd, i32.add(g(pd), i32.const(4))),
    local.set(pu, i32.add(g(pu), i32.const(4))),
    local.set(po, i32.add(g(po), i32.const(4))),
    local.set(pb, i32.add(g(pb), i32.const(rowBytes))),
    local.set(pc, i32.add(g(pc), i32.const(rowBytes))),
  ]);
  const perRow: Code = [
    local.set(sA, i32.add(g(pA), i32.mul(g(r), i32.const(rowBytes)))),
    local.set(sS, i32.add(g(pState), i32.mul(g(r), i32.const(rowBytes)))),
    a.map((ak, k) => local.set(ak, v128.load(g(sA), 16 * k))),
    h.map((hk, k) => local.set(hk, v128.load(g(sS), 16 * k))),
    local.set(rowOff, i32.shl(i32.add(i32.mul(g(r), g(Lp)), g(t0)), i32.const(2))),
    local.set(pu, i32.add(g(pU), g(rowOff))),
    local.set(pd, i32.add(g(pDt), g(rowOff))),
    local.set(po, i32.add(g(pOut), g(rowOff))),
    local.set(pend, i32.add(g(pd), i32.shl(i32.sub(g(tend), g(t0)), i32.const(2)))),
    local.set(pb, i32.add(g(pBT), i32.mul(g(t0), i32.const(rowBytes)))),
    local.set(pc, i32.add(g(pCT), i32.mul(g(t0), i32.const(rowBytes)))),
    inner,
    h.map((hk, k) => v128.store(g(sS), g(hk), 16 * k)),
    local.set(r, i32.add(g(r), i32.const(1))),
  ];
  const body: Code = [
    local.set(t0, i32.const(0)),
    control.while(i32.ltS(g(t0), g(L)), [
      local.set(
        tend,
        i32.select(i32.add(g(t0), g(tile)), g(L), i32.ltS(i32.add(g(t0), g(tile)), g(L))),
      ),
      local.set(r, i32.const(0)),
      control.while(i32.ltS(g(r), g(rows)), perRow),
      local.set(t0, g(tend)),
    ]),
  ];
  return {
    name: "scan",
    params: Array<"i32">(11).fill("i32"),
    locals: l.types,
    constants: l.constants,
    body: [body],
  };
}

function postFunction(): WasmFunction {
  // params: rows, Lp, pOut, pU, pZ, pD, hasZ
  const l = new Locals(7);
  const [rows, Lp, pOut, pU, pZ, pD, hasZ] = [0, 1, 2, 3, 4, 5, 6];
  const r = l.add("i32");
  const p = l.add("i32");
  const pend = l.add("i32");
  const vD = l.add("v128");
  const y = l.add("v128");
  const zv = l.add("v128");
  const t = expTemps(l);
  const g = local.get;
  const at = (base: number): Code => i32.add(g(base), g(p));
  const loop = (gate: boolean): Code =>
    control.while(i32.ltU(g(p), g(pend)), [
      local.set(y, f4.add(v128.load(at(pOut)), f4.mul(g(vD), v128.load(at(pU))))),
      gate
        ? [
            local.set(zv, v128.load(at(pZ))),
            local.set(y, f4.div(f4.mul(g(y), g(zv)), f4.add(l.f(1), exp4(f4.neg(g(zv)), t)))),
          ]
        : [],
      v128.store(at(pOut), g(y)),
      local.set(p, i32.add(g(p), i32.const(16))),
    ]);
  const body: Code = [
    local.set(r, i32.const(0)),
    control.while(i32.ltS(g(r), g(rows)), [
      local.set(vD, f4.splat(f32.load(i32.add(g(pD), i32.shl(g(r), i32.const(2)))))),
      local.set(p, i32.shl(i32.mul(g(r), g(Lp)), i32.const(2))),
      local.set(pend, i32.add(g(p), i32.shl(g(Lp), i32.const(2)))),
      control.if(g(hasZ), loop(true)),
      control.if(i32.eqz(g(hasZ)), loop(false)),
      local.set(r, i32.add(g(r), i32.const(1))),
    ]),
  ];
  return {
    name: "post",
    params: Array<"i32">(7).fill("i32"),
    locals: l.types,
    constants: l.constants,
    body: [body],
  };
}

function expLoopFunction(): WasmFunction {
  // params: count4, pX, pY
  const l = new Locals(3);
  const i = l.add("i32");
  const t = expTemps(l);
  const g = local.get;
  const off = (base: number): Code => i32.add(g(base), i32.shl(g(i), i32.const(4)));
  const body: Code = [
    local.set(i, i32.const(0)),
    control.while(i32.ltS(g(i), g(0)), [
      v128.store(off(2), exp4(v128.load(off(1)), t)),
      local.set(i, i32.add(g(i), i32.const(1))),
    ]),
  ];
  return {
    name: "expLoop",
    params: ["i32", "i32", "i32"],
    locals: l.types,
    constants: l.constants,
    body: [body],
  };
}

function sumLoopFunction(): WasmFunction {
  // params: count4, p, pResult; four accumulators to keep the adds independent
  const l = new Locals(3);
  const q = l.add("i32");
  const pend = l.add("i32");
  const s = [l.add("v128"), l.add("v128"), l.add("v128"), l.add("v128")];
  const g = local.get;
  const body: Code = [
    local.set(q, g(1)),
    local.set(pend, i32.add(g(1), i32.shl(g(0), i32.const(4)))),
    control.while(i32.ltU(g(q), g(pend)), [
      s.map((sk, k) => local.set(sk, f4.add(g(sk), v128.load(g(q), 16 * k)))),
      local.set(q, i32.add(g(q), i32.const(64))),
    ]),
    v128.store(g(2), f4.add(f4.add(g(s[0]), g(s[1])), f4.add(g(s[2]), g(s[3])))),
  ];
  return {
    name: "sumLoop",
    params: ["i32", "i32", "i32"],
    locals: l.types,
    constants: l.constants,
    body: [body],
  };
}

/** The module binary for G groups of four states (see the module comment for its functions). */
export function fastScanModuleBytes(G: number): Uint8Array {
  if (!Number.isInteger(G) || G < 1 || G > 64) {
    throw new Error(`fastScanModuleBytes: argument 'G' must be an integer in [1, 64] (got ${G})`);
  }
  return assembleModule([
    prepFunction(),
    scanFunction(G),
    postFunction(),
    expLoopFunction(),
    sumLoopFunction(),
  ]);
}
