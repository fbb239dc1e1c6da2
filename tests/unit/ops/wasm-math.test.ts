/**
 * The vector exponentials every SIMD kernel shares (`ops/simd/wasm-math.ts`), run in a module of
 * their own over float32 arguments and compared with the float64 value of the same float32
 * argument: e^x on [−87, 88] and 2^x on [−126, 0] within their stated relative errors, and 2^x
 * clamped to 2^−126 below that.
 */
import { describe, expect, it } from "vitest";
import {
  type Code,
  type WasmFunction,
  assembleModule,
  control,
  f4,
  g,
  i32,
  inc,
  set,
  v128,
} from "../../../lib/src/ops/simd/wasm";
import {
  Locals,
  type ExpTemps,
  exp2NonPositive4,
  exp4,
  expTemps,
} from "../../../lib/src/ops/simd/wasm-math";

/** Runs `f` over the float32 values of `xs` (a multiple of 4) in WebAssembly; returns the results. */
function runVectorFunction(f: (x: Code, t: ExpTemps) => Code, xs: Float32Array): Float32Array {
  // loop(n4, pX, pY): y = f(x) over 4·n4 values
  const l = new Locals(3);
  const i = l.add("i32");
  const t = expTemps(l);
  const at = (base: number): Code => i32.add(g(base), i32.shl(g(i), i32.const(4)));
  const body: Code = [
    set(i, i32.const(0)),
    control.while(i32.ltS(g(i), g(0)), [
      v128.store(at(2), f(v128.load(at(1)), t)),
      inc(i, i32.const(1)),
    ]),
  ];
  const bytes = assembleModule(
    [
      {
        name: "loop",
        params: ["i32", "i32", "i32"],
        locals: l.types,
        constants: l.constants,
        body,
      },
    ],
    { kind: "own", initialPages: Math.ceil((8 * xs.length + 64) / 65536) },
  );
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {});
  const { memory, loop } = instance.exports as {
    memory: WebAssembly.Memory;
    loop: (n4: number, pX: number, pY: number) => void;
  };
  const pX = 64;
  const pY = pX + 4 * xs.length;
  new Float32Array(memory.buffer, pX, xs.length).set(xs);
  loop(xs.length / 4, pX, pY);
  return new Float32Array(memory.buffer, pY, xs.length).slice();
}

/** `count` float32 values evenly spaced over [lo, hi], both ends included. */
function grid(lo: number, hi: number, count: number): Float32Array {
  return Float32Array.from({ length: count }, (_, k) => lo + ((hi - lo) * k) / (count - 1));
}

/** The largest |y / want(x) − 1| (x as the float32 the kernel read). */
function worstRelative(xs: Float32Array, ys: Float32Array, want: (x: number) => number): number {
  let worst = 0;
  xs.forEach((x, k) => (worst = Math.max(worst, Math.abs(ys[k] / want(x) - 1))));
  return worst;
}

describe("the SIMD exponentials", () => {
  it("exp4 is within 2.5e-7 relative of e^x on [−87, 88]", () => {
    const xs = grid(-87, 88, 200_000);
    expect(worstRelative(xs, runVectorFunction(exp4, xs), Math.exp)).toBeLessThan(2.5e-7);
  });

  it("exp2NonPositive4 is within 3.9e-7 relative of 2^x on [−126, 0], and near 0", () => {
    const xs = new Float32Array([...grid(-126, 0, 200_000), ...grid(-1e-3, 0, 4_000)]);
    const ys = runVectorFunction(exp2NonPositive4, xs);
    expect(worstRelative(xs, ys, (x) => 2 ** x)).toBeLessThan(3.9e-7);
    // 2^0 is exactly 1, and the result never exceeds it (a decay stays a decay)
    expect(ys[199_999]).toBe(1);
    expect(ys.reduce((a, b) => Math.max(a, b))).toBeLessThanOrEqual(1);
  });

  it("exp2NonPositive4 stops at 2^−126 below −126 (the smallest normal float32)", () => {
    const xs = new Float32Array([-126.5, -127, -150, -1e6]);
    expect(Array.from(runVectorFunction(exp2NonPositive4, xs))).toEqual(
      Array.from({ length: 4 }, () => Math.fround(2 ** -126)),
    );
  });
});

/** The count of entries in section `id` of a module's binary (0 when it has none). */
function sectionCount(bytes: Uint8Array, id: number): number {
  const uleb = (at: number): [number, number] => {
    let value = 0;
    let shift = 0;
    for (;;) {
      const byte = bytes[at++];
      value += (byte & 0x7f) * 2 ** shift;
      shift += 7;
      if (byte < 0x80) return [value, at];
    }
  };
  for (let at = 8; at < bytes.length;) {
    const sectionId = bytes[at];
    const [size, start] = uleb(at + 1);
    if (sectionId === id) return uleb(start)[0];
    at = start + size;
  }
  return 0;
}

describe("vector constants in locals", () => {
  it("are set from one module global per distinct value before the body runs", () => {
    // two functions, fill(n4, pY): y = c (each function its own constant, both a shared one)
    const fill = (name: string, own: number): WasmFunction => {
      const l = new Locals(2);
      const i = l.add("i32");
      const body: Code = [
        set(i, i32.const(0)),
        control.while(i32.ltS(g(i), g(0)), [
          v128.store(
            i32.add(g(1), i32.shl(g(i), i32.const(4))),
            f4.add(f4.mul(l.f(own), l.f(0.5)), v128.and(l.i(-1), l.f(0.25))),
          ),
          inc(i, i32.const(1)),
        ]),
      ];
      return { name, params: ["i32", "i32"], locals: l.types, constants: l.constants, body };
    };
    const bytes = assembleModule([fill("a", 3), fill("b", -5)]);
    // 3, −5, 0.5, the all-ones bits and 0.25: five values, seven uses
    expect(sectionCount(bytes, 6)).toBe(5);
    const exports = new WebAssembly.Instance(new WebAssembly.Module(bytes), {}).exports as {
      memory: WebAssembly.Memory;
      a: (n4: number, pY: number) => void;
      b: (n4: number, pY: number) => void;
    };
    exports.a(3, 0);
    exports.b(2, 48);
    expect(Array.from(new Float32Array(exports.memory.buffer, 0, 20))).toEqual([
      ...Array<number>(12).fill(1.75),
      ...Array<number>(8).fill(-2.25),
    ]);
  });
});
