/**
 * The asynchronous gpu.js scans (gpuSelectiveScanAsync): under gpu.js's Promise contract on the
 * backends this machine has (cpu, webasm, headlessgl under `xvfb-run -a`), and on WebGPU in
 * headless Chromium (Debian's `chromium`, its SwiftShader Vulkan adapter) with lib bundled for
 * the page. The reference is lib's float64 sequential `selectiveScan` (tested against its own
 * independent reference in tests/helpers/selective-scan.ts), a different algorithm from both gpu.js scans.
 * In the same page, Mamba-2's chunked SSD on gpu.js (createGpuSsd) against lib's float64 SSD
 * recurrence (`ssdRecurrence`; the other backends: tests/unit/gpu/ssd.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  Rng,
  type SelectiveScanArgs,
  type Tensor,
  type SyncGpuBackend,
  createGpuSelectiveScan,
  createGpuSelectiveScanAsync,
  gpuBackends,
  gpuSelectiveScanAsync,
  randomSelectiveScanArgs,
  selectiveScan,
  selectiveScanBackward,
  selectiveScanForwardTrain,
  ssdRecurrence,
} from "../../lib/src/index";
import { firstNonFinite } from "../../lib/src/validate";
import { relErr } from "../helpers/reference";

// float32 on every backend: max |error| / max(1, max |out|)
const TOL = 5e-5;

interface Case {
  label: string;
  size: [number, number, number, number];
  chunk: number;
  groups?: boolean;
  plain?: boolean;
}

const cases: Case[] = [
  { label: "(2, 3, 37, 5), partial last chunk", size: [2, 3, 37, 5], chunk: 8 },
  { label: "(1, 4, 64, 16), four chunks", size: [1, 4, 64, 16], chunk: 16 },
  { label: "(1, 2, 9, 3), chunk T = 1", size: [1, 2, 9, 3], chunk: 1 },
  { label: "(2, 4, 20, 4), grouped B and C", size: [2, 4, 20, 4], chunk: 4, groups: true },
  { label: "(1, 3, 25, 6), no z, no D, no softplus", size: [1, 3, 25, 6], chunk: 5, plain: true },
];

/** Arguments as they travel to the page: tensors as { shape, data: number[] }. */
function toWire(args: SelectiveScanArgs | Record<string, Tensor>): Record<string, unknown> {
  const plain: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(args)) {
    plain[k] =
      v && typeof v === "object" && "data" in v ? { shape: v.shape, data: Array.from(v.data) } : v;
  }
  return plain;
}

/** The upstream gradient of case `c`'s output, (b, d, l). */
function doutOf(c: Case): Float32Array {
  const [b, d, l] = c.size;
  return Float32Array.from({ length: b * d * l }, (_, i) => Math.cos(0.3 * i));
}

/** Seeded arguments of a case; grouped: B, C (b, 2, n, l) with different groups. */
function caseArgs(c: Case): SelectiveScanArgs {
  const [batch, dim, length, dstate] = c.size;
  const a = randomSelectiveScanArgs(new Rng(length * 7 + dstate), { batch, dim, length, dstate });
  const args: SelectiveScanArgs = { ...a, returnLastState: true };
  if (c.groups) {
    // (b, n, l) -> (b, 2, n, l): group 0 the values drawn, group 1 those times -0.5
    const twoGroups = (t: { data: Float32Array | Float64Array }) => {
      const per = dstate * length;
      const data = new Float32Array(2 * batch * per);
      for (let b = 0; b < batch; b++)
        for (let j = 0; j < per; j++) {
          data[2 * b * per + j] = t.data[b * per + j];
          data[(2 * b + 1) * per + j] = -0.5 * t.data[b * per + j];
        }
      return { shape: [batch, 2, dstate, length], data };
    };
    args.B = twoGroups(a.B);
    args.C = twoGroups(a.C);
  }
  if (c.plain) {
    return {
      u: a.u,
      delta: { shape: a.delta.shape, data: a.delta.data.map((x) => 0.05 + 0.1 * Math.abs(x)) },
      A: a.A,
      B: a.B,
      C: a.C,
      returnLastState: true,
    };
  }
  return args;
}

const headless = gpuBackends().find((b) => b.backend === "headlessgl")!;
if (!headless.available) {
  console.log(`gpu-scan-async.test: headlessgl tests skipped: ${headless.reason}`);
}
const backends: SyncGpuBackend[] = [
  "cpu",
  "webasm",
  ...(headless.available ? (["headlessgl"] as const) : []),
];

for (const backend of backends) {
  describe(`gpuSelectiveScanAsync on ${backend}`, () => {
    for (const c of cases) {
      for (const variant of ["naive", "chunked"] as const) {
        it(`${variant} resolves to the float64 reference within ${TOL}: ${c.label}`, async () => {
          const args = caseArgs(c);
          const want = selectiveScan(args);
          const pending = gpuSelectiveScanAsync(args, {
            mode: backend,
            variant,
            ...(variant === "chunked" ? { chunkSize: c.chunk } : {}),
          });
          expect(pending).toBeInstanceOf(Promise);
          const got = await pending;
          expect(got.backend).toBe(backend);
          expect(got.variant).toBe(variant);
          expect(got.out.shape).toEqual(args.u.shape);
          expect(relErr(got.out.data, want.out.data)).toBeLessThan(TOL);
          expect(got.lastState!.shape).toEqual([c.size[0], c.size[1], c.size[3]]);
          expect(relErr(got.lastState!.data, want.lastState!.data)).toBeLessThan(TOL);
        });
      }
    }

    it("runs the same launches as the synchronous scan, and a scanner is reusable", async () => {
      const args = caseArgs(cases[0]);
      for (const variant of ["naive", "chunked"] as const) {
        const sync = createGpuSelectiveScan({ mode: backend, variant });
        const scanner = createGpuSelectiveScanAsync({ mode: backend, variant });
        try {
          const a = sync.run(args);
          const first = await scanner.run(args);
          const second = await scanner.run(args);
          expect(first.launches).toEqual(a.launches);
          expect(first.traffic).toEqual(a.traffic);
          expect(Object.keys(scanner.sources()).sort()).toEqual(Object.keys(sync.sources()).sort());
          expect(relErr(second.out.data, first.out.data)).toBeLessThan(1e-7);
        } finally {
          sync.destroy();
          scanner.destroy();
        }
      }
    });
  });
}

describe("gpuSelectiveScanAsync: options and bad input", () => {
  const args = caseArgs(cases[0]);

  it("rejects bad options with the function and the option named", async () => {
    await expect(gpuSelectiveScanAsync(args, { mode: "metal" as never })).rejects.toThrow(
      /^gpuSelectiveScanAsync: argument 'options\.mode' must be one of .*"webgpu"/,
    );
    await expect(
      gpuSelectiveScanAsync(args, { mode: "cpu", variant: "naive", chunkSize: 4 }),
    ).rejects.toThrow(
      /^gpuSelectiveScanAsync: argument 'options\.chunkSize' must be absent unless options\.variant is "chunked"/,
    );
    await expect(gpuSelectiveScanAsync(args, { mode: "cpu", speed: 1 } as never)).rejects.toThrow(
      /^gpuSelectiveScanAsync: argument 'options' must be an options object \{ mode\?, variant\?, chunkSize\? \} \(got an unknown key "speed"/,
    );
    expect(() => createGpuSelectiveScanAsync({ chunkSize: 0 })).toThrow(
      /argument '[^']*options\.chunkSize' must be/,
    );
  });

  it("rejects bad arguments naming gpuSelectiveScanAsync", async () => {
    const bad = { ...args, A: { shape: [3], data: new Float32Array(3) } };
    await expect(gpuSelectiveScanAsync(bad, { mode: "cpu" })).rejects.toThrow(
      /gpuSelectiveScanAsync/,
    );
    // more states than the kernels' loops are compiled for
    const wide = randomSelectiveScanArgs(new Rng(3), { batch: 1, dim: 1, length: 2, dstate: 257 });
    await expect(gpuSelectiveScanAsync(wide, { mode: "cpu" })).rejects.toThrow(
      "gpuSelectiveScanAsync: argument 'A' must have at most 256 states n (got n = 257)",
    );
  });

  it("refuses overlapping runs of one scanner and runs after destroy", async () => {
    const scanner = createGpuSelectiveScanAsync({ mode: "cpu" });
    const first = scanner.run(args);
    await expect(scanner.run(args)).rejects.toThrow(/still running/);
    await first;
    scanner.destroy();
    await expect(scanner.run(args)).rejects.toThrow(/destroyed/);
  });

  it("the synchronous API still refuses webgpu", () => {
    expect(() => createGpuSelectiveScan({ mode: "webgpu" as never })).toThrow(/asynchronously/);
  });

  it('mode "webgpu" in Node either runs on Dawn or says why it cannot', async () => {
    const want = selectiveScan(args);
    try {
      const got = await gpuSelectiveScanAsync(args, { mode: "webgpu" });
      expect(got.backend).toBe("webgpu");
      expect(relErr(got.out.data, want.out.data)).toBeLessThan(TOL);
    } catch (err) {
      // here: Dawn's binary needs a newer libstdc++ than Debian 12's, or no adapter answers
      expect((err as Error).message).toMatch(
        /installWebGpu: (no navigator\.gpu|navigator\.gpu answered no adapter)/,
      );
    }
  });
});

// ---- WebGPU in headless Chromium (SwiftShader) ----

const CHROMIUM = process.env.MAMBA_TS_CHROMIUM ?? "/usr/bin/chromium";
const root = path.resolve(__dirname, "../..");

describe("gpuSelectiveScanAsync on webgpu in headless Chromium (SwiftShader)", () => {
  let tmp = "";
  let close: (() => Promise<void>) | null = null;
  let evaluate: (<T>(fn: string) => Promise<T>) | null = null;

  /**
   * In the page: for each [argument, flat index, value] of `spoil`, the arguments `plain` (from
   * toWire) with that value put in (every tensor float64 where the value is a number, so that a
   * value beyond float32's range arrives as it is; else float32), passed to each of `calls`
   * (sources of async functions of the program `create` makes and the arguments); what each
   * threw, or "accepted".
   */
  const refusalsInPage = (
    create: string,
    calls: string[],
    plain: Record<string, unknown>,
    spoil: [string, number, number | string][],
  ): Promise<string[]> =>
    evaluate!<string[]>(`(async () => {
      const lib = globalThis.lib;
      await lib.installWebGpu();
      const program = ${create};
      const out = [];
      for (const [key, i, v] of ${JSON.stringify(spoil)}) {
        const Data = typeof v === "number" ? Float64Array : Float32Array;
        const args = {};
        for (const [k, t] of Object.entries(${JSON.stringify(plain)})) {
          args[k] = t && typeof t === "object" ? { shape: t.shape, data: Data.from(t.data) } : t;
        }
        args[key].data[i] = Number(v);
        for (const call of [${calls.join(", ")}]) {
          try {
            await call(program, args);
            out.push("accepted");
          } catch (e) {
            out.push(e.message);
          }
        }
      }
      program.destroy();
      return out;
    })()`);
  let skip: string | null = existsSync(CHROMIUM) ? null : `no Chromium at ${CHROMIUM}`;

  beforeAll(async () => {
    if (skip) return;
    tmp = mkdtempSync(path.join(os.tmpdir(), "webgpu-test-"));
    // lib's scan modules bundled for the page, with gpu.js's browser build as the global GPU
    writeFileSync(path.join(tmp, "gpujs.cjs"), "module.exports = globalThis.GPU;\n");
    writeFileSync(
      path.join(tmp, "entry.ts"),
      [
        `import * as async from ${JSON.stringify(path.join(root, "lib/src/gpu/selective-scan-async.ts"))};`,
        `import * as webgpu from ${JSON.stringify(path.join(root, "lib/src/gpu/webgpu.ts"))};`,
        `import * as fused from ${JSON.stringify(path.join(root, "lib/src/gpu/fused-scan.ts"))};`,
        `import * as ssd from ${JSON.stringify(path.join(root, "lib/src/gpu/ssd.ts"))};`,
        `import * as wgsl from ${JSON.stringify(path.join(root, "lib/src/gpu/wgsl-scan.ts"))};`,
        `import * as scan from ${JSON.stringify(path.join(root, "lib/src/selective/scan.ts"))};`,
        `import * as args from ${JSON.stringify(path.join(root, "lib/src/scan/random-args.ts"))};`,
        `import { Rng } from ${JSON.stringify(path.join(root, "lib/src/rng.ts"))};`,
        "(globalThis as any).lib = { ...async, ...webgpu, ...fused, ...ssd, ...wgsl, ...scan, ...args, Rng };",
        // arguments as they travel to the page (see toWire) back into float32 tensors
        "(globalThis as any).fromWire = (w: Record<string, any>) => Object.fromEntries(Object.entries(w).map(([k, v]) => [k, v && typeof v === 'object' ? { shape: v.shape, data: Float32Array.from(v.data) } : v]));",
      ].join("\n"),
    );
    const { build } = await import("rolldown");
    await build({
      input: path.join(tmp, "entry.ts"),
      platform: "browser",
      external: ["gl", "webgpu"],
      resolve: { alias: { "gpu.js": path.join(tmp, "gpujs.cjs") } },
      output: { file: path.join(tmp, "bundle.js"), format: "iife" },
      logLevel: "silent",
    });
    writeFileSync(
      path.join(tmp, "index.html"),
      `<html><body><script src="${path.join(root, "node_modules/gpu.js/dist/gpu-browser.js")}"></script><script src="bundle.js"></script></body></html>`,
    );
    const { chromium } = await import("playwright-core");
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--enable-unsafe-webgpu",
        "--enable-features=Vulkan",
        "--use-vulkan=swiftshader",
        "--use-webgpu-adapter=swiftshader",
        "--disable-vulkan-surface",
        "--no-sandbox",
      ],
    });
    close = () => browser.close();
    const page = await browser.newPage();
    // file:// is a secure context: navigator.gpu exists there
    await page.goto(`file://${path.join(tmp, "index.html")}`);
    evaluate = <T>(fn: string) => page.evaluate(fn) as Promise<T>;
    const adapter = await evaluate<string | null>(
      "navigator.gpu ? navigator.gpu.requestAdapter().then((a) => (a ? 'ok' : null)) : null",
    );
    if (adapter === null) skip = "Chromium offers no WebGPU adapter here";
  });

  afterAll(async () => {
    await close?.();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it("both variants resolve to the float64 reference within tolerance on every case", async (ctx) => {
    if (skip) {
      console.log(`gpu-scan-async.test: webgpu tests skipped: ${skip}`);
      ctx.skip();
    }
    // the arguments travel as plain arrays; the reference is computed here
    const wire = cases.map((c) => {
      return { label: c.label, chunk: c.chunk, args: toWire(caseArgs(c)) };
    });
    const results = await evaluate!<
      { label: string; variant: string; backend: string; out: number[]; last: number[] }[]
    >(`(async () => {
      const lib = globalThis.lib;
      const info = await lib.installWebGpu();
      if (info.dawn) throw new Error("expected the browser's WebGPU");
      const out = [];
      for (const c of ${JSON.stringify(wire)}) {
        const args = fromWire(c.args);
        for (const variant of ["naive", "chunked"]) {
          const options = variant === "chunked" ? { mode: "webgpu", variant, chunkSize: c.chunk } : { mode: "webgpu", variant };
          const r = await lib.gpuSelectiveScanAsync(args, options);
          out.push({ label: c.label, variant, backend: r.backend, out: Array.from(r.out.data), last: Array.from(r.lastState.data) });
        }
      }
      return out;
    })()`);
    expect(results.length).toBe(2 * cases.length);
    for (const r of results) {
      const want = selectiveScan(caseArgs(cases.find((c) => c.label === r.label)!));
      expect(r.backend, `${r.variant} ${r.label}`).toBe("webgpu");
      expect(relErr(r.out, want.out.data), `${r.variant} ${r.label}`).toBeLessThan(TOL);
      expect(relErr(r.last, want.lastState!.data), `${r.variant} ${r.label}`).toBeLessThan(TOL);
    }
  });
  it("uploads and reads back in slices: every value arrives, on every path, also concurrently", async (ctx) => {
    if (skip) {
      console.log(`gpu-scan-async.test: webgpu tests skipped: ${skip}`);
      ctx.skip();
    }
    // 1,001 values (not a multiple of any slice): default slices (one), slices of 4,000 bytes,
    // 64 and 4 (more slices than the four staging buffers: each is reused while others copy)
    const got = await evaluate!<{ label: string; back: number[] }[]>(`(async () => {
      const lib = globalThis.lib;
      await lib.installWebGpu();
      const make = (k) => Float32Array.from({ length: 1001 }, (_, i) => Math.sin(i + k) * 1e3 + i);
      const out = [];
      for (const how of ["staged", "write", "mapped"]) {
        for (const slice of [undefined, 4000, 64, 4]) {
          const buf = await lib.createWebGpuBuffer(make(0), [7, 143], how, slice);
          for (const readSlice of [undefined, 64]) {
            const back = await lib.readWebGpuBuffer(buf, 1001, readSlice);
            out.push({ label: how + " " + slice + " " + readSlice + " k0", back: Array.from(back) });
          }
          // a prefix only, in slices of two values
          const head = await lib.readWebGpuBuffer(buf, 13, 8);
          out.push({ label: how + " " + slice + " head k0", back: Array.from(head) });
          buf.delete();
        }
      }
      // three uploads and three reads at once through the same staging buffers
      const bufs = await Promise.all([1, 2, 3].map((k) => lib.createWebGpuBuffer(make(k), [1001], "staged", 64)));
      const backs = await Promise.all(bufs.map((b) => lib.readWebGpuBuffer(b, 1001, 64)));
      backs.forEach((b, j) => out.push({ label: "concurrent k" + (j + 1), back: Array.from(b) }));
      return out;
    })()`);
    const make = (k: number) =>
      Array.from(Float32Array.from({ length: 1001 }, (_, i) => Math.sin(i + k) * 1e3 + i));
    expect(got.length).toBe(3 * 4 * 3 + 3);
    for (const g of got) {
      const k = Number(g.label.slice(g.label.lastIndexOf("k") + 1));
      expect(g.back, g.label).toEqual(g.label.includes("head") ? make(0).slice(0, 13) : make(k));
    }
  });

  it("finds the first NaN or ±∞ of each buffer on the device, as firstNonFinite does on the host", async (ctx) => {
    if (skip) {
      console.log(`gpu-scan-async.test: webgpu tests skipped: ${skip}`);
      ctx.skip();
    }
    // 100,003 words: 25 workgroups of 256 invocations, each walking about 16 words 6,400 apart,
    // so a later invocation's first bad word can precede an earlier invocation's (6,401 vs 100)
    const n = 100003;
    const bad: [number, number][][] = [
      [],
      [[0, NaN]],
      [[n - 1, Infinity]],
      [
        [6401, -Infinity],
        [100, NaN],
      ],
      [
        [6401, NaN],
        [6500, Infinity],
      ],
      [
        [77777, -Infinity],
        [77778, NaN],
        [99999, NaN],
      ],
      // the largest finite float32 and the smallest subnormal are finite
      [
        [5, 3.4028234663852886e38],
        [6, -1.401298464324817e-45],
        [9000, NaN],
      ],
    ];
    const got = await evaluate!<number[]>(`(async () => {
      const lib = globalThis.lib;
      await lib.installWebGpu();
      const bufs = [];
      for (const places of ${JSON.stringify(bad.map((p) => p.map(([i, v]) => [i, String(v)])))}) {
        const data = Float32Array.from({ length: ${n} }, (_, i) => Math.sin(i) * 1e3);
        // (values travel as text: JSON has no NaN or ±∞)
        for (const [i, v] of places) data[i] = Number(v);
        bufs.push(await lib.createWebGpuBuffer(data, [${n}]));
      }
      // a buffer of one word, not a multiple of anything
      bufs.push(await lib.createWebGpuBuffer(Float32Array.of(-Infinity), [1]));
      const found = await lib.firstNonFiniteOnDevice(bufs);
      bufs.forEach((b) => b.delete());
      return found;
    })()`);
    const want = bad.map((places) => {
      const data = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 1e3);
      for (const [i, v] of places) data[i] = v;
      return firstNonFinite(data);
    });
    expect(want).toEqual([-1, 0, n - 1, 100, 6401, 77777, 9000]);
    expect(got).toEqual([...want, 0]);
  });

  it("the fused scan refuses a non-finite u, delta or z found on the device, named as the host check names it", async (ctx) => {
    if (skip) {
      console.log(`gpu-scan-async.test: webgpu tests skipped: ${skip}`);
      ctx.skip();
    }
    const args = caseArgs(cases[1]);
    const plain = toWire(args);
    // [argument, flat index, value]; delta 1e300 is finite in float64 but not in float32
    const spoil: [string, number, number | string][] = [
      ["u", 17, "NaN"],
      ["delta", 63, "Infinity"],
      ["z", 0, "-Infinity"],
      ["delta", 5, 1e300],
    ];
    const messages = await refusalsInPage(
      'lib.createFusedGpuScan({ mode: "webgpu" })',
      ["(scanner, args) => scanner.upload(args)"],
      plain,
      spoil,
    );
    // the host check's message for the same argument (selectiveScan reads every value)
    const hostMessage = (key: string, i: number, v: number) => {
      const t = args[key as "u"];
      const data = Float32Array.from(t.data);
      data[i] = v;
      try {
        selectiveScan({ ...args, [key]: { shape: t.shape, data } });
      } catch (e) {
        return (e as Error).message.replace("selectiveScan:", "FusedGpuScanner.upload:");
      }
      return "accepted";
    };
    expect(messages.slice(0, 3)).toEqual(
      spoil.slice(0, 3).map(([k, i, v]) => hostMessage(k, i, Number(v))),
    );
    expect(messages[0]).toBe(
      "FusedGpuScanner.upload: argument 'u' must be a tensor of finite values (got NaN at flat index 17)",
    );
    expect(messages[3]).toBe(
      "FusedGpuScanner.upload: argument 'delta' must be a tensor of values finite in float32 (got 1e+300 at flat index 5, beyond float32's range)",
    );
  });

  it("the fused scan keeps its data on the device and matches lib's float64 forward and backward", async (ctx) => {
    if (skip) {
      console.log(`gpu-scan-async.test: webgpu tests skipped: ${skip}`);
      ctx.skip();
    }
    const fusedCases = cases.filter((c) => c.chunk % 4 === 0);
    const wire = fusedCases.map((c) => {
      const plain = toWire(caseArgs(c));
      const [b, d, l] = c.size;
      const dout = Array.from({ length: b * d * l }, (_, i) => Math.cos(0.3 * i));
      return { label: c.label, chunk: c.chunk, args: plain, dout };
    });
    const results = await evaluate!<
      { label: string; out: number[]; last: number[]; grads: Record<string, number[]> }[]
    >(`(async () => {
      const lib = globalThis.lib;
      await lib.installWebGpu();
      const out = [];
      for (const c of ${JSON.stringify(wire)}) {
        const args = fromWire(c.args);
        const scanner = lib.createFusedGpuScan({ mode: "webgpu", chunkSize: c.chunk, superChunk: 2 });
        const up = await scanner.upload(args);
        const o = await scanner.forward(up);
        await lib.webGpuIdle();
        const r = await scanner.read(o);
        const g = await scanner.uploadGradient(up, { shape: args.u.shape, data: Float32Array.from(c.dout) });
        const grads = await scanner.readGradients(up, await scanner.backward(up, o, g));
        const plain = {};
        for (const [k, v] of Object.entries(grads)) plain[k] = Array.from(v.data);
        out.push({ label: c.label, out: Array.from(r.out.data), last: Array.from(r.lastState.data), grads: plain });
        scanner.free(up, o, g);
        scanner.destroy();
      }
      return out;
    })()`);
    expect(results.length).toBe(fusedCases.length);
    for (const r of results) {
      const c = fusedCases.find((x) => x.label === r.label)!;
      const args = caseArgs(c);
      const want = selectiveScan(args);
      expect(relErr(r.out, want.out.data), r.label).toBeLessThan(TOL);
      expect(relErr(r.last, want.lastState!.data), r.label).toBeLessThan(TOL);
      const [b, d, l] = c.size;
      const dout = {
        shape: [b, d, l],
        data: Float32Array.from({ length: b * d * l }, (_, i) => Math.cos(0.3 * i)),
      };
      const ref = selectiveScanBackward(
        selectiveScanForwardTrain({ ...args, returnLastState: false }).cache,
        dout,
      );
      for (const k of ["du", "ddelta", "dA", "dB", "dC", "dD", "dz", "ddeltaBias"] as const) {
        if (ref[k] === undefined) continue;
        expect(relErr(r.grads[k], ref[k]!.data), `${k} ${r.label}`).toBeLessThan(TOL);
      }
    }
  });
  it("the hand-written WGSL scan matches lib's float64 forward at every tiling, from the fused scan's uploads", async (ctx) => {
    if (skip) {
      console.log(`gpu-scan-async.test: webgpu tests skipped: ${skip}`);
      ctx.skip();
    }
    // tilings: the default (channels fitted down to the size), lanes over a state slice with a
    // position tile not a multiple of the workgroup (n·T % WG), one invocation per channel
    const tilings = [{}, { channels: 2, lanes: 2, chunk: 8 }, { channels: 4, lanes: 1, chunk: 4 }];
    const wgslCases: Case[] = [
      ...cases,
      { label: "(3, 8, 70, 16), 24 channels", size: [3, 8, 70, 16], chunk: 32 },
    ];
    const wire = wgslCases.map((c) => ({ label: c.label, args: toWire(caseArgs(c)) }));
    const results = await evaluate!<
      { label: string; tiling: object; plan: Record<string, unknown>; out: number[] }[]
    >(`(async () => {
      const lib = globalThis.lib;
      await lib.installWebGpu();
      const out = [];
      for (const tiling of ${JSON.stringify(tilings)}) {
        const scanner = lib.createWgslScan(tiling);
        for (const c of ${JSON.stringify(wire)}) {
          const args = fromWire(c.args);
          const up = await scanner.upload(args);
          const r = await lib.withDeviceErrorScopes("test", async () => scanner.read(await scanner.forward(up)));
          const plan = scanner.plan();
          out.push({ label: c.label, tiling, plan, out: Array.from(r.out.data) });
          scanner.free(up);
        }
        scanner.destroy();
      }
      // bad input is refused naming the scanner's own upload
      const scanner = lib.createWgslScan();
      try {
        await scanner.upload({ u: null });
        out.push({ refused: "accepted" });
      } catch (e) {
        out.push({ refused: e.message });
      }
      scanner.destroy();
      return out;
    })()`);
    const refused = results.pop() as unknown as { refused: string };
    expect(refused.refused).toMatch(/^WgslScanner\.upload: argument 'u' must be/);
    expect(results.length).toBe(tilings.length * wgslCases.length);
    const lanesSeen = new Set<unknown>();
    for (const r of results) {
      const c = wgslCases.find((x) => x.label === r.label)!;
      const want = selectiveScan(caseArgs(c));
      expect(relErr(r.out, want.out.data), `${r.label} ${JSON.stringify(r.plan)}`).toBeLessThan(
        TOL,
      );
      lanesSeen.add(r.plan.lanes);
    }
    // every tiling ran as asked somewhere: lanes 4, 2 and 1 all appear in the plans
    expect([...lanesSeen].sort()).toEqual([1, 2, 4]);
  });

  /**
   * Runs the WGSL forwardTrain and backward of every case at every tiling in the page and checks
   * out and every gradient against lib's float64 backward; returns each run's backward plan. Each
   * size compiles its own shaders, which SwiftShader takes 10-20 s for at the default tiling.
   */
  const wgslBackwardPlans = async (tilings: object[], bwdCases: Case[]) => {
    const wire = bwdCases.map((c) => ({
      label: c.label,
      args: toWire(caseArgs(c)),
      dout: Array.from(doutOf(c)),
    }));
    const results = await evaluate!<
      {
        label: string;
        plan: Record<string, unknown>;
        out: number[];
        grads: Record<string, number[]>;
      }[]
    >(`(async () => {
      const lib = globalThis.lib;
      await lib.installWebGpu();
      const out = [];
      for (const tiling of ${JSON.stringify(tilings)}) {
        const scanner = lib.createWgslScan(tiling);
        for (const c of ${JSON.stringify(wire)}) {
          const args = fromWire(c.args);
          const up = await scanner.upload(args);
          const g = await scanner.uploadGradient(up, { shape: args.u.shape, data: Float32Array.from(c.dout) });
          const r = await lib.withDeviceErrorScopes("test", async () => {
            const saved = await scanner.forwardTrain(up);
            const y = await scanner.read(saved.out);
            return { y, grads: await scanner.readGradients(up, await scanner.backward(up, saved, g)) };
          });
          const plain = {};
          for (const [k, v] of Object.entries(r.grads)) plain[k] = Array.from(v.data);
          out.push({ label: c.label, plan: scanner.backwardPlan(), out: Array.from(r.y.out.data), grads: plain });
          scanner.free(up, g);
        }
        scanner.destroy();
      }
      return out;
    })()`);
    expect(results.length).toBe(tilings.length * bwdCases.length);
    return results.map((r) => {
      const c = bwdCases.find((x) => x.label === r.label)!;
      const args = caseArgs(c);
      const tag = `${r.label} ${JSON.stringify(r.plan)}`;
      expect(relErr(r.out, selectiveScan(args).out.data), tag).toBeLessThan(TOL);
      const ref = selectiveScanBackward(
        selectiveScanForwardTrain({ ...args, returnLastState: false }).cache,
        { shape: c.size.slice(0, 3), data: doutOf(c) },
      );
      for (const k of ["du", "ddelta", "dA", "dB", "dC", "dD", "dz", "ddeltaBias"] as const) {
        if (ref[k] === undefined) continue;
        expect(r.grads[k], `${k} ${tag}`).toBeDefined();
        expect(relErr(r.grads[k], ref[k]!.data), `${k} ${tag}`).toBeLessThan(TOL);
      }
      return { c, plan: r.plan };
    });
  };
  // the 24-channel case puts several channel blocks in one group, so the second kernel's sums over
  // blocks (and over the batch) are tested
  const wgslBackwardCases: Case[] = [
    ...cases,
    { label: "(3, 8, 70, 16), 24 channels", size: [3, 8, 70, 16], chunk: 32 },
  ];

  it("the hand-written WGSL backward at its default tiling matches lib's float64 backward", async (ctx) => {
    if (skip) {
      console.log(`gpu-scan-async.test: webgpu tests skipped: ${skip}`);
      ctx.skip();
    }
    // the partial last chunk with n = 5, four chunks of n = 16 and several blocks a group; the
    // smaller tilings below take every case
    const runs = await wgslBackwardPlans(
      [{}],
      wgslBackwardCases.filter((c) => /partial|four chunks|24 channels/.test(c.label)),
    );
    expect(runs.length).toBe(3);
    // four lanes share each channel's 16 states (n = 5 takes one lane a channel)
    for (const { c, plan } of runs) expect(plan.lanes, c.label).toBe(c.size[3] === 16 ? 4 : 1);

    // a backward without its forward, and a dout of the wrong shape, are refused by name
    const c = { args: toWire(caseArgs(cases[0])), dout: Array.from(doutOf(cases[0])) };
    const refused = await evaluate!<string[]>(`(async () => {
        const lib = globalThis.lib;
        const scanner = lib.createWgslScan();
        const c = ${JSON.stringify(c)};
        const args = fromWire(c.args);
        const up = await scanner.upload(args);
        const refused = [];
        try {
          await scanner.uploadGradient(up, { shape: [1, 1, 1], data: new Float32Array(1) });
          refused.push("accepted");
        } catch (e) {
          refused.push(e.message);
        }
        const g = await scanner.uploadGradient(up, { shape: args.u.shape, data: Float32Array.from(c.dout) });
        try {
          await scanner.backward(up, { out: null, states: null }, g);
          refused.push("accepted");
        } catch (e) {
          refused.push(e.message);
        }
        scanner.free(up, g);
        scanner.destroy();
        return refused;
      })()`);
    expect(refused[0]).toMatch(
      /^WgslScanner\.uploadGradient: argument 'dout' must be a float tensor of shape \(2, 3, 37\)/,
    );
    expect(refused[1]).toBe(
      "WgslScanner.backward: argument 'saved' must be this scanner's last forwardTrain of these inputs",
    );
  }, 240_000);

  it("the hand-written WGSL backward matches lib's float64 backward at small tilings, with and without shuffles", async (ctx) => {
    if (skip) {
      console.log(`gpu-scan-async.test: webgpu tests skipped: ${skip}`);
      ctx.skip();
    }
    // SwiftShader's subgroups have 4 invocations, so ∂B, ∂C are summed by shuffles over 2 and 4
    // channels, and over 4 channels in workgroup memory alone (no shuffles); n = 5 with one lane
    // leaves each invocation an odd number of values after one step
    const tilings = [
      { channels: 2, lanes: 2, chunk: 8 },
      { channels: 4, lanes: 1, chunk: 4 },
      { channels: 4, lanes: 1, chunk: 4, shuffles: false },
    ];
    const runs = await wgslBackwardPlans(tilings, wgslBackwardCases);
    const lanesSeen = new Set(runs.map((r) => r.plan.lanes));
    const shuffledSeen = new Set(runs.map((r) => r.plan.shuffled));
    const blocksSeen = new Set(
      runs.map(({ c, plan }) => c.size[1] / (c.groups ? 2 : 1) / (plan.channels as number)),
    );
    expect([...lanesSeen].sort()).toEqual([1, 2]);
    expect([...shuffledSeen].sort(), `subgroups of ${runs[0].plan.subgroupSize}`).toEqual([
      1, 2, 4,
    ]);
    // some workgroup summed its group alone, some shared it with other blocks
    expect(blocksSeen.has(1)).toBe(true);
    expect([...blocksSeen].some((n) => n > 1)).toBe(true);
  });

  it("Mamba-2's chunked SSD (createGpuSsd) matches the float64 recurrence", async (ctx) => {
    if (skip) {
      console.log(`gpu-scan-async.test: webgpu tests skipped: ${skip}`);
      ctx.skip();
    }
    // b, l, h, p, g, n and Q: l not a multiple of Q, two groups, p and n not multiples of 4
    const ssdCases = [
      { size: [2, 37, 4, 5, 2, 6], chunk: 8 },
      { size: [1, 64, 3, 7, 1, 3], chunk: 16 },
    ];
    const wire = ssdCases.map((c, k) => {
      const [b, l, h, p, g, n] = c.size;
      const rng = new Rng(50 + k);
      const A = rng.randn([b, l, h]);
      A.data.forEach((_, i) => (A.data[i] = -0.5 * rng.uniform(0, 1)));
      const inputs = {
        X: rng.randn([b, l, h, p]),
        A,
        B: rng.randn([b, l, g, n]),
        C: rng.randn([b, l, g, n]),
      };
      const plain: Record<string, { shape: number[]; data: number[] }> = {};
      for (const [key, t] of Object.entries(inputs)) {
        plain[key] = { shape: t.shape, data: Array.from(t.data) };
      }
      return { chunk: c.chunk, inputs, plain };
    });
    const results = await evaluate!<{ y: number[]; last: number[] }[]>(`(async () => {
      const lib = globalThis.lib;
      await lib.installWebGpu();
      const out = [];
      for (const c of ${JSON.stringify(wire.map((w) => ({ chunk: w.chunk, inputs: w.plain })))}) {
        const inputs = {};
        for (const [k, v] of Object.entries(c.inputs)) {
          inputs[k] = { shape: v.shape, data: Float32Array.from(v.data) };
        }
        const ssd = lib.createGpuSsd({ mode: "webgpu", chunkSize: c.chunk });
        const up = await ssd.upload(inputs);
        const o = await ssd.forward(up, { finalState: true });
        await lib.webGpuIdle();
        const r = await ssd.read(o);
        out.push({ y: Array.from(r.y.data), last: Array.from(r.finalState.data) });
        ssd.free(up, o);
        ssd.destroy();
      }
      return out;
    })()`);
    expect(results.length).toBe(ssdCases.length);
    results.forEach((r, k) => {
      // the page computed in float32 from float32 copies: the reference from the same values
      const f32 = Object.fromEntries(
        Object.entries(wire[k].inputs).map(([key, t]) => [
          key,
          { shape: t.shape, data: Float64Array.from(Float32Array.from(t.data)) },
        ]),
      ) as (typeof wire)[number]["inputs"];
      const want = ssdRecurrence(f32);
      expect(relErr(r.y, want.y.data), `y, case ${k}`).toBeLessThan(TOL);
      expect(relErr(r.last, want.finalState.data), `final state, case ${k}`).toBeLessThan(TOL);
    });
  });

  it("the SSD refuses a non-finite X, A, B or C found on the device, named as the host check names it", async (ctx) => {
    if (skip) {
      console.log(`gpu-scan-async.test: webgpu tests skipped: ${skip}`);
      ctx.skip();
    }
    const rng = new Rng(60);
    const inputs = {
      X: rng.randn([2, 37, 4, 5]),
      A: rng.randn([2, 37, 4]),
      B: rng.randn([2, 37, 2, 6]),
      C: rng.randn([2, 37, 2, 6]),
    };
    const plain = toWire(inputs);
    // [input, flat index, value]; C 1e300 is finite in float64 but not in float32
    const spoil: [string, number, number | string][] = [
      ["X", 1479, "NaN"],
      ["A", 3, "-Infinity"],
      ["B", 400, "Infinity"],
      ["C", 0, 1e300],
    ];
    const messages = await refusalsInPage(
      'lib.createGpuSsd({ mode: "webgpu", chunkSize: 8 })',
      [
        "(ssd, inputs) => ssd.upload(inputs)",
        "(_, inputs) => lib.gpuSsdChunked(inputs, { chunkSize: 8 })",
      ],
      plain,
      spoil,
    );
    const want = spoil.flatMap(([key, i, v]) => {
      const number = Number(v);
      // the host check's message (ssdRecurrence reads every value), for the non-finite ones
      const host = (fn: string) => {
        if (Number.isFinite(number)) {
          return `${fn}: argument 'inputs.${key}' must be a tensor of values finite in float32 (got ${number} at flat index ${i}, beyond float32's range)`;
        }
        const t = inputs[key as "X"];
        const data = Float64Array.from(t.data);
        data[i] = number;
        try {
          ssdRecurrence({ ...inputs, [key]: { shape: t.shape, data } });
        } catch (e) {
          return (e as Error).message.replace("ssdRecurrence:", `${fn}:`);
        }
        return "accepted";
      };
      return [host("GpuSsd.upload"), host("gpuSsdChunked")];
    });
    expect(messages).toEqual(want);
    expect(messages[0]).toBe(
      "GpuSsd.upload: argument 'inputs.X' must be a tensor of finite values (got NaN at flat index 1479)",
    );
  });
});
