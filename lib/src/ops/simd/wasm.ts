/**
 * A very small WebAssembly assembler: just enough to write the fast selective scan by hand, with
 * SIMD (128-bit vectors of four float32 lanes).
 *
 * Code is written as nested arrays of bytes in stack-machine order, e.g.
 * `f4.add(local.get(x), f4.splat(f32.const(1)))`, and flattened by {@link assembleModule}. Only the
 * instructions the kernels use are here; their opcodes are those of the WebAssembly core
 * specification 2.0 (SIMD is the 0xfd prefix). The result is validated with
 * `WebAssembly.validate` before it is compiled, so an encoding mistake fails loudly.
 */

/** The parts of the WebAssembly JavaScript API this module uses (typed here, since lib's
 * compiler settings include no DOM types). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  grow(pages: number): number;
}
export interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  Memory: new (descriptor: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
}

/** The engine's WebAssembly object, or undefined where there is none. */
export const wasmApi: WasmApi | undefined = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;

/** Bytes or nested lists of bytes; flattened in order. */
export type Code = number | Code[];

/** WebAssembly value types. */
export const ValType = { i32: 0x7f, f32: 0x7d, v128: 0x7b } as const;
export type ValTypeName = keyof typeof ValType;

function flatten(code: Code, out: number[] = []): number[] {
  if (typeof code === "number") out.push(code);
  else for (const c of code) flatten(c, out);
  return out;
}

/** Unsigned LEB128. */
function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n = Math.floor(n / 128);
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 (for i32 constants). */
function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    const done = (n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

function f32Bytes(x: number): number[] {
  const b = new Uint8Array(new Float32Array([x]).buffer);
  return Array.from(b);
}

const SIMD = 0xfd;
const simd = (op: number, ...rest: Code[]): Code[] => [...rest, SIMD, ...uleb(op)];
/** Memory immediate: alignment (log2 bytes) and a constant offset. */
const memarg = (align: number, offset: number): number[] => [...uleb(align), ...uleb(offset)];

/** Local variables. */
export const local = {
  get: (i: number): Code => [0x20, ...uleb(i)],
  set: (i: number, value: Code): Code => [value, 0x21, ...uleb(i)],
  tee: (i: number, value: Code): Code => [value, 0x22, ...uleb(i)],
};

/** 32-bit integer instructions. */
export const i32 = {
  const: (n: number): Code => [0x41, ...sleb(n | 0)],
  add: (a: Code, b: Code): Code => [a, b, 0x6a],
  sub: (a: Code, b: Code): Code => [a, b, 0x6b],
  mul: (a: Code, b: Code): Code => [a, b, 0x6c],
  divS: (a: Code, b: Code): Code => [a, b, 0x6d],
  and: (a: Code, b: Code): Code => [a, b, 0x71],
  or: (a: Code, b: Code): Code => [a, b, 0x72],
  xor: (a: Code, b: Code): Code => [a, b, 0x73],
  load: (addr: Code, offset = 0): Code => [addr, 0x28, ...memarg(2, offset)],
  shl: (a: Code, b: Code): Code => [a, b, 0x74],
  shrU: (a: Code, b: Code): Code => [a, b, 0x76],
  /** Zero-extended 16-bit load (a float16 or bfloat16's bits). */
  load16U: (addr: Code, offset = 0): Code => [addr, 0x2f, ...memarg(1, offset)],
  eqz: (a: Code): Code => [a, 0x45],
  ltS: (a: Code, b: Code): Code => [a, b, 0x48],
  ltU: (a: Code, b: Code): Code => [a, b, 0x49],
  gtS: (a: Code, b: Code): Code => [a, b, 0x4a],
  leS: (a: Code, b: Code): Code => [a, b, 0x4c],
  geS: (a: Code, b: Code): Code => [a, b, 0x4e],
  /** `cond ? a : b` (both evaluated). */
  select: (a: Code, b: Code, cond: Code): Code => [a, b, cond, 0x1b],
};

/** Scalar float32 instructions. */
export const f32 = {
  const: (x: number): Code => [0x43, ...f32Bytes(x)],
  load: (addr: Code, offset = 0): Code => [addr, 0x2a, ...memarg(2, offset)],
  store: (addr: Code, value: Code, offset = 0): Code => [addr, value, 0x38, ...memarg(2, offset)],
  add: (a: Code, b: Code): Code => [a, b, 0x92],
  sub: (a: Code, b: Code): Code => [a, b, 0x93],
  mul: (a: Code, b: Code): Code => [a, b, 0x94],
  div: (a: Code, b: Code): Code => [a, b, 0x95],
  sqrt: (a: Code): Code => [a, 0x91],
  max: (a: Code, b: Code): Code => [a, b, 0x97],
  /** |a| with the sign of b. */
  copysign: (a: Code, b: Code): Code => [a, b, 0x98],
  /** A signed int32 converted to float32. */
  fromI32: (a: Code): Code => [a, 0xb2],
  /** The bits of an int32 read as a float32. */
  reinterpretI32: (a: Code): Code => [a, 0xbe],
};

/** 128-bit vector instructions, lanes as four float32 (f4) or four int32 (i4). */
export const v128 = {
  load: (addr: Code, offset = 0): Code => [addr, SIMD, ...uleb(0x00), ...memarg(2, offset)],
  /** One float32 (or int32) from memory into all four lanes (`v128.load32_splat`). */
  load32Splat: (addr: Code, offset = 0): Code => [addr, SIMD, ...uleb(0x09), ...memarg(2, offset)],
  store: (addr: Code, value: Code, offset = 0): Code => [
    addr,
    value,
    SIMD,
    ...uleb(0x0b),
    ...memarg(2, offset),
  ],
  /** A constant vector of four int32 lanes with the same bits. */
  constI32: (n: number): Code => [
    SIMD,
    ...uleb(0x0c),
    ...Array.from(new Uint8Array(new Int32Array([n, n, n, n]).buffer)),
  ],
  /**
   * Four float32 lanes picked from a's lanes (0-3) and b's (4-7) (`i8x16.shuffle` of their
   * bytes).
   */
  shuffle32: (a: Code, b: Code, lanes: readonly [number, number, number, number]): Code => [
    a,
    b,
    SIMD,
    ...uleb(0x0d),
    ...lanes.flatMap((i) => [4 * i, 4 * i + 1, 4 * i + 2, 4 * i + 3]),
  ],
  and: (a: Code, b: Code): Code => simd(0x4e, a, b),
  or: (a: Code, b: Code): Code => simd(0x50, a, b),
  xor: (a: Code, b: Code): Code => simd(0x51, a, b),
  /** 1 when any bit of a is set, else 0 (an i32). */
  anyTrue: (a: Code): Code => simd(0x53, a),
  /** Lanes of a where mask bits are 1, else b. */
  bitselect: (a: Code, b: Code, mask: Code): Code => simd(0x52, a, b, mask),
};

/** f32x4 instructions. */
export const f4 = {
  splat: (x: Code): Code => simd(0x13, x),
  /** A constant vector with x in every lane (one v128.const). */
  const: (x: number): Code => [
    SIMD,
    ...uleb(0x0c),
    ...Array.from(new Uint8Array(new Float32Array([x, x, x, x]).buffer)),
  ],
  /** A constant vector of four given lanes. */
  lanes: (x: readonly [number, number, number, number]): Code => [
    SIMD,
    ...uleb(0x0c),
    ...Array.from(new Uint8Array(new Float32Array(x).buffer)),
  ],
  extractLane: (v: Code, lane: number): Code => [v, SIMD, ...uleb(0x1f), lane],
  /** v with lane `lane` replaced by the float32 x. */
  replaceLane: (v: Code, lane: number, x: Code): Code => [v, x, SIMD, ...uleb(0x20), lane],
  lt: (a: Code, b: Code): Code => simd(0x43, a, b),
  gt: (a: Code, b: Code): Code => simd(0x44, a, b),
  nearest: (a: Code): Code => simd(0x6a, a),
  add: (a: Code, b: Code): Code => simd(0xe4, a, b),
  sub: (a: Code, b: Code): Code => simd(0xe5, a, b),
  mul: (a: Code, b: Code): Code => simd(0xe6, a, b),
  div: (a: Code, b: Code): Code => simd(0xe7, a, b),
  min: (a: Code, b: Code): Code => simd(0xe8, a, b),
  max: (a: Code, b: Code): Code => simd(0xe9, a, b),
  /** Pseudo-minimum `b < a ? b : a` (one machine instruction; no NaN or -0 handling). */
  pmin: (a: Code, b: Code): Code => simd(0xea, a, b),
  /** Pseudo-maximum `a < b ? b : a`. */
  pmax: (a: Code, b: Code): Code => simd(0xeb, a, b),
  neg: (a: Code): Code => simd(0xe1, a),
  /** Lanes converted from int32. */
  fromI4: (a: Code): Code => simd(0xfa, a),
};

/** i32x4 instructions. */
export const i4 = {
  splat: (x: Code): Code => simd(0x11, x),
  /** The low (high) four 16-bit lanes of a, zero-extended to 32 bits. */
  extendLowU16: (a: Code): Code => simd(0xa9, a),
  extendHighU16: (a: Code): Code => simd(0xaa, a),
  const: (n: number): Code => v128.constI32(n),
  /** Float lanes truncated (saturating) to int32. */
  fromF4: (a: Code): Code => simd(0xf8, a),
  add: (a: Code, b: Code): Code => simd(0xae, a, b),
  sub: (a: Code, b: Code): Code => simd(0xb1, a, b),
  shl: (a: Code, bits: Code): Code => simd(0xab, a, bits),
  shrU: (a: Code, bits: Code): Code => simd(0xad, a, bits),
};

/**
 * The shorthands the kernels are written with: `g(x)` reads local x, `set(x, value)` writes it,
 * `inc(x, by)` adds the i32 `by` to it.
 */
export const g = local.get;
export const set = local.set;
export const inc = (x: number, by: Code): Code => set(x, i32.add(g(x), by));

/** Structured control flow (block type: no results). */
export const control = {
  /** `while (cond) { body }` as block + loop. */
  while: (cond: Code, body: Code): Code => [
    0x02,
    0x40,
    0x03,
    0x40,
    cond,
    0x45,
    0x0d,
    1,
    body,
    0x0c,
    0,
    0x0b,
    0x0b,
  ],
  if: (cond: Code, then: Code): Code => [cond, 0x04, 0x40, then, 0x0b],
  /** Calls function number `index` of the module (its position in the list assembled). */
  call: (index: number, ...args: Code[]): Code => [...args, 0x10, ...uleb(index)],
};

/**
 * A vector constant a function keeps in a local: the assembled function sets `local` at entry
 * from a mutable module global holding `value` (a `v128.const` instruction). Written as a
 * constant in the body, V8's optimising compiler would fold it into every use inside the loops
 * and rebuild it there (three instructions: an immediate into a general register, into a vector
 * register, across the lanes) where the loop is the function's outermost one: `silu` ran 12%
 * slower, a loop of the exponential a fifth. A mutable global's value is read once and stays in
 * a register.
 */
export interface ConstantLocal {
  local: number;
  value: Code;
}

/**
 * A function to assemble: parameters, extra locals, the constants set in locals before the body
 * runs ({@link ConstantLocal}), body, and the export name.
 */
export interface WasmFunction {
  name: string;
  params: ValTypeName[];
  locals: ValTypeName[];
  constants?: ConstantLocal[];
  body: Code;
}

/**
 * Where a module's memory comes from: its own, exported as "memory" with `initialPages` of 64 KiB
 * (the default, one page), or imported as `env.memory`, shared between threads and between module
 * instances: a shared memory keeps its address range when it grows, so views taken earlier stay
 * valid (a module's own memory detaches them).
 */
export type ModuleMemory =
  | { kind: "own"; initialPages: number }
  | { kind: "imported-shared"; initialPages: number; maximumPages: number };

/**
 * Assembles a module with the given functions (no results), each exported under its name, and the
 * memory `memory` (see {@link ModuleMemory}). Returns the binary.
 */
export function assembleModule(
  functions: WasmFunction[],
  memory: ModuleMemory = { kind: "own", initialPages: 1 },
): Uint8Array {
  const vec = (items: Code[]): Code => [uleb(items.length), items];
  const section = (id: number, content: Code): Code => {
    const bytes = flatten(content);
    return [id, uleb(bytes.length), bytes];
  };
  const types = functions.map((f) => [0x60, vec(f.params.map((p) => ValType[p])), vec([])]);
  // one mutable global per distinct constant of the module (see ConstantLocal), made at its
  // first use
  const globalOf = new Map<string, number>();
  const globals: Code[] = [];
  const globalFor = (value: Code): number => {
    const key = flatten(value).join(",");
    let index = globalOf.get(key);
    if (index === undefined) {
      index = globals.length;
      globalOf.set(key, index);
      globals.push([ValType.v128, 0x01, value, 0x0b]);
    }
    return index;
  };
  const code = functions.map((f) => {
    const groups: Code[] = f.locals.map((l) => [1, ValType[l]]);
    const setConstants = (f.constants ?? []).map((c) => [
      0x23,
      ...uleb(globalFor(c.value)),
      0x21,
      ...uleb(c.local),
    ]);
    const body = flatten([vec(groups), setConstants, f.body, 0x0b]);
    return [uleb(body.length), body];
  });
  const str = (s: string): Code => [uleb(s.length), Array.from(new TextEncoder().encode(s))];
  const functionExports: Code[] = functions.map((f, i) => [str(f.name), 0x00, uleb(i)]);
  const own = memory.kind === "own";
  // an imported memory: limits flag 0x03, a maximum follows and the memory is shared
  const imports: Code = own
    ? []
    : section(
        2,
        vec([
          [
            str("env"),
            str("memory"),
            0x02,
            0x03,
            uleb(memory.initialPages),
            uleb(memory.maximumPages),
          ],
        ]),
      );
  const exportEntries: Code[] = own
    ? [[str("memory"), 0x02, 0], ...functionExports]
    : functionExports;
  const module = flatten([
    [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    section(1, vec(types)),
    imports,
    section(3, vec(functions.map((_, i) => uleb(i)))),
    own ? section(5, vec([[0x00, uleb(memory.initialPages)]])) : [],
    globals.length > 0 ? section(6, vec(globals)) : [],
    section(7, vec(exportEntries)),
    section(10, vec(code)),
  ]);
  return new Uint8Array(module);
}

/** Whether this JavaScript engine runs WebAssembly with 128-bit SIMD. */
export function wasmSimdSupported(): boolean {
  if (simdSupported === null) {
    simdSupported = wasmApi !== undefined && wasmApi.validate(assembleProbe());
  }
  return simdSupported;
}
let simdSupported: boolean | null = null;

function assembleProbe(): Uint8Array {
  return assembleModule([
    { name: "f", params: [], locals: ["v128"], body: local.set(0, f4.const(0)) },
  ]);
}
