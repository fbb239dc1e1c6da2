/**
 * Benchmark: Mamba-2's chunked SSD against Mamba-1's selective scan as the state size N grows
 * (the paper's Figure 10 in miniature, on this machine's CPU, one core).
 *
 * One layer's worth of work at equal state: E = 512 channels, l = 1024 positions, N = 16, 64, 128,
 * 256. Mamba-1 scans E channels of N states each (A a matrix (E, N): an exp per channel and state
 * and step); Mamba-2 runs H = 8 heads of P = 64 channels with a scalar A per head and one group
 * of B and C, in chunks of Q = 64 (the same E · N numbers of state). Timed, in one run:
 * - Mamba-1 scan, TypeScript float64: lib's `selectiveScan` (lesson 06): the baseline;
 * - Mamba-1 scan, WebAssembly SIMD float32: `selectiveScanFast` (lesson 08), the fastest lib has;
 * - SSD chunked, TypeScript float64: `ssdChunked` (lesson 13), and the SSD recurrence
 *   `ssdRecurrence` (the same operator, one position at a time);
 * - SSD chunked on the simd backend (`ops/simd/ssd.ts`, `ssdChunkedGemm`: its products on the
 *   register-blocked WebAssembly SIMD gemm, float32), what the "simd" engines run for Mamba-2's
 *   prefill and decoding; given the same operator as the op's arguments (Δ = −a with A = −1 per
 *   head, x = X / Δ, D = 0) and checked against `ssdChunked`;
 * - PyTorch (CPU, its own threads), when the benchmarks' Python has torch (`../bench-python.ts`):
 *   `ssd_minimal_discrete` (state-spaces/mamba's `ssd_minimal.py`, the paper's Listing 1, from
 *   `lib/gpu-run/torch_ssd.py`, which the GPU benchmark `ssd-webgpu` runs on CUDA) and
 *   `selective_scan_ref` on the same inputs; both are checked against lib's outputs.
 * It prints seconds, ratios to the baseline, the chunked SSDs' FLOPs and their rate against this
 * core's measured float32 SIMD peak (`measureSimdPeakGflops`).
 *
 * Then the backward, for one random gradient of y: the float64 recurrence's
 * (`reference.ssdBackward`, the baseline every engine is tested against), the simd backend's on
 * the gemm (`ssdChunkedGemmBackward`, what Mamba-2 trains with), checked against it, and
 * PyTorch's autograd through `ssd_minimal_discrete` (its dB and dC checked against lib's).
 *
 * Run: `npm run bench -- ssd` (after `npm run build`).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Rng } from "../../dist/rng";
import type { Tensor } from "../../dist/tensor";
import { bestOfSeconds } from "../../dist/timing";
import { selectiveScan } from "../../dist/selective/scan";
import { selectiveScanFast } from "../../dist/selective-fast/fast-scan";
import { randomSelectiveScanArgs } from "../../dist/scan/random-args";
import { ssdChunked, ssdRecurrence } from "../../dist/mamba2/ssd";
import { ssdChunkedGemm, ssdChunkedGemmBackward } from "../../dist/ops/simd/ssd";
import { reference } from "../../dist/ops/reference/index";
import { SimdMemory } from "../../dist/ops/simd/memory";
import { inverseSoftplusRaw } from "../../dist/ops/reference/scalar";
import type { SsdArgs, SsdGradients } from "../../dist/ops/backend";
import { measureSimdPeakGflops } from "../../dist/ops/simd/peak";
import { formatSeconds, relDiff } from "../bench-scan-common";

const E = 512;
const L = 1024;
const P = 64;
const H = E / P;
const Q = 64;
const STATES = [16, 64, 128, 256];
/** PyTorch's selective_scan_ref holds (d, l, n) twice; skip it past this many bytes. */
const TORCH_SCAN_MEMORY = 6e8;
import { torchPython } from "../bench-python";

/** Where `torch_ssd.py` (ssd_minimal_discrete, shared with the GPU benchmark) lives. */
const GPU_RUN = path.join(__dirname, "..", "..", "gpu-run");

/** The benchmarks' Python with torch (`../bench-python.ts`), or "" when there is none. */
const FOUND = torchPython();
const PYTHON = "why" in FOUND ? "" : FOUND.python;

const TORCH_SCRIPT = `
import sys, time, torch
import torch.nn.functional as F
sys.path.insert(0, sys.argv[10])
from torch_ssd import ssd_minimal_discrete  # state-spaces/mamba's, the paper's Listing 1

def selective_scan_ref(u, delta, A, B, C, delta_bias):
    delta = F.softplus(delta + delta_bias[..., None])
    deltaA = torch.exp(torch.einsum("bdl,dn->bdln", delta, A))
    deltaB_u = torch.einsum("bdl,bnl,bdl->bdln", delta, B, u)
    x = A.new_zeros((u.shape[0], A.shape[0], A.shape[1])); ys = []
    for i in range(u.shape[2]):
        x = deltaA[:, :, i] * x + deltaB_u[:, :, i]
        ys.append(torch.einsum("bdn,bn->bd", x, C[:, :, i]))
    return torch.stack(ys, dim=2)

folder, l, h, p, n, q, e, do_scan, do_backward = sys.argv[1], *map(int, sys.argv[2:10])
def load(name, shape):
    with open(folder + "/" + name, "rb") as f:
        return torch.frombuffer(bytearray(f.read()), dtype=torch.float32).reshape(shape)
def best(fn):
    t = []
    for _ in range(3):
        t0 = time.perf_counter(); out = fn(); t.append(time.perf_counter() - t0)
    return min(t), out
X = load("X", (1, l, h, p)); A = load("A", (1, l, h))
B = load("B", (1, l, 1, n)).expand(1, l, h, n).contiguous(); C = load("C", (1, l, 1, n)).expand(1, l, h, n).contiguous()
with torch.no_grad():
    ssd_s, y = best(lambda: ssd_minimal_discrete(X, A, B, C, q))
    y.contiguous().numpy().tofile(folder + "/y_ssd")
    scan_s = -1.0
    if do_scan:
        u = load("u", (1, e, l)); delta = load("delta", (1, e, l)); As = load("As", (e, n))
        Bs = load("Bs", (1, n, l)); Cs = load("Cs", (1, n, l)); bias = load("bias", (e,))
        scan_s, ys = best(lambda: selective_scan_ref(u, delta, As, Bs, Cs, bias))
        ys.contiguous().numpy().tofile(folder + "/y_scan")
backward_s = -1.0
if do_backward:
    # autograd through Listing 1: the gradients of B and C (one group, expanded over the heads)
    g = load("g", (1, l, h, p))
    X.requires_grad_(); A.requires_grad_()
    Bg = load("B", (1, l, 1, n)).requires_grad_(); Cg = load("C", (1, l, 1, n)).requires_grad_()
    t = []
    for _ in range(3):
        X.grad = A.grad = Bg.grad = Cg.grad = None
        y = ssd_minimal_discrete(X, A, Bg.expand(1, l, h, n), Cg.expand(1, l, h, n), q)
        t0 = time.perf_counter(); y.backward(g); t.append(time.perf_counter() - t0)
    backward_s = min(t)
    Bg.grad.contiguous().numpy().tofile(folder + "/dB")
    Cg.grad.contiguous().numpy().tofile(folder + "/dC")
print(ssd_s, scan_s, backward_s, torch.get_num_threads(), torch.__version__)
`;

function torchVersion(): string | null {
  return "why" in FOUND ? null : FOUND.torch;
}

function save(dir: string, name: string, t: Tensor): void {
  const data = Float32Array.from(t.data);
  writeFileSync(path.join(dir, name), new Uint8Array(data.buffer));
}

function readF32(file: string): Float32Array {
  const bytes = readFileSync(file);
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4).slice();
}

/** FLOPs of the chunked SSD (2 per multiply-add): per head and chunk of q positions. */
function ssdFlops(n: number): number {
  const chunks = L / Q;
  const perChunk = ((Q * (Q + 1)) / 2) * (n + P) + 2 * Q * P * n + P * n;
  return 2 * H * chunks * perChunk;
}

/**
 * FLOPs of the SSD backward on the gemm (`ssdChunkedGemmBackward`, 2 per multiply-add, its
 * products as run: full Q × Q blocks): per head and chunk dY Xᵀ and Mᵀ dY (Q·Q·P each) and five
 * Q·P·n products (the fold again, dY S, X dS, diag(u) B dSᵀ, dYᵀ diag(w) C); per group and chunk
 * the scores again and their two gradients (Q·Q·n each).
 */
function ssdBackwardFlops(n: number): number {
  const chunks = L / Q;
  return 2 * chunks * (H * (2 * Q * Q * P + 5 * Q * P * n) + 3 * Q * Q * n);
}

/**
 * The SSD op's arguments (float32) for the discretised inputs of `ssdChunked`: A = −1 per head,
 * so Δ = −a (dt = softplus⁻¹(Δ), no bias), x = X / Δ, D = 0, no clamp, one group.
 */
function opArgs(inputs: { X: Tensor; A: Tensor; B: Tensor; C: Tensor }, n: number): SsdArgs {
  const f = (shape: number[], data: ArrayLike<number>): Tensor => ({
    shape,
    data: Float32Array.from(data),
  });
  const delta = Array.from(inputs.A.data, (a) => -a);
  return {
    x: f(
      [1, L, E],
      Array.from(inputs.X.data, (v, i) => v / delta[Math.floor(i / P)]),
    ),
    dt: f([1, L, H], delta.map(inverseSoftplusRaw)),
    A: f([H], new Array<number>(H).fill(-1)),
    B: f([1, L, n], inputs.B.data),
    C: f([1, L, n], inputs.C.data),
    D: f([H], new Array<number>(H).fill(0)),
    dtBias: f([H], new Array<number>(H).fill(0)),
    groups: 1,
    dtLimit: [0, Infinity],
    chunkSize: Q,
  };
}

function main(): void {
  const cpu = os.cpus()[0]?.model ?? "unknown CPU";
  console.log(
    `SSD vs selective scan. Node ${process.version}, ${cpu}, ${os.cpus().length} cores; load average ${os.loadavg()[0].toFixed(1)}.`,
  );
  const peak = measureSimdPeakGflops();
  console.log(`This core's float32 SIMD peak (measureSimdPeakGflops): ${peak.toFixed(1)} GFLOP/s.`);
  const torch = torchVersion();
  console.log(
    torch
      ? `PyTorch ${torch} (${PYTHON}, its own CPU threads): ssd_minimal_discrete and selective_scan_ref run.`
      : `PyTorch: its columns are skipped (${"why" in FOUND ? FOUND.why : ""})`,
  );
  console.log(
    `E = ${E} channels (Mamba-2: H = ${H} heads of P = ${P}, one group, chunks of Q = ${Q}), l = ${L}, batch 1; lib runs on one core.\n`,
  );
  const header = [
    "N",
    "scan TS f64",
    "scan SIMD f32",
    "SSD recurrence TS",
    "SSD chunked TS",
    "chunked/scan TS",
    "chunked GFLOP/s (% peak)",
    "SSD chunked SIMD f32",
    "GFLOP/s (% peak)",
    "torch SSD",
    "torch scan",
  ];
  const rows: string[][] = [];
  const backwardRows: string[][] = [];
  for (const N of STATES) {
    const rng = new Rng(100 + N);
    const scanArgs = randomSelectiveScanArgs(rng, { batch: 1, dim: E, length: L, dstate: N });
    // Mamba-1's scan as the block runs it (Δ = softplus(delta + bias)), without the D and z extras.
    const scan = { ...scanArgs, z: undefined, D: undefined };
    const X = rng.randn([1, L, H, P]);
    const A = rng.randn([1, L, H]);
    A.data.forEach((_, i) => (A.data[i] = -0.1 * rng.uniform(0, 1)));
    const inputs = { X, A, B: rng.randn([1, L, 1, N]), C: rng.randn([1, L, 1, N]) };

    const tScan = bestOfSeconds(3, () => selectiveScan(scan));
    const tFast = bestOfSeconds(3, () => selectiveScanFast(scan));
    const tRec = bestOfSeconds(3, () => ssdRecurrence(inputs));
    let chunked: Tensor | null = null;
    const tChunk = bestOfSeconds(3, () => (chunked = ssdChunked(inputs, { chunkSize: Q }).y));
    const err = relDiff(chunked!.data, ssdRecurrence(inputs).y.data);
    if (err > 1e-10) throw new Error(`ssd bench: chunked and recurrence differ by ${err}`);
    const gflops = ssdFlops(N) / tChunk / 1e9;
    const op = opArgs(inputs, N);
    const memory = new SimdMemory();
    let gemmY: Float32Array | null = null;
    const tGemm = bestOfSeconds(3, () => {
      memory.reset();
      gemmY = ssdChunkedGemm(memory, op, null).data;
    });
    // float32 against float64: the operator's outputs to a few float32 ulps of their scale.
    const errGemm = relDiff(gemmY!, chunked!.data);
    if (errGemm > 1e-4)
      throw new Error(`ssd bench: the simd SSD and ssdChunked differ by ${errGemm}`);
    const gemmGflops = ssdFlops(N) / tGemm / 1e9;

    // The backward: dY random; lib's simd backward against the float64 recurrence's backward.
    const gy = rng.randn([1, L, E]);
    const gy32: Tensor = { shape: gy.shape, data: Float32Array.from(gy.data) };
    let refGrads!: SsdGradients;
    const op64: SsdArgs = { ...op };
    for (const k of ["x", "dt", "A", "B", "C", "D", "dtBias"] as const)
      op64[k] = { shape: op[k].shape, data: Float64Array.from(op[k].data) };
    const tRefBackward = bestOfSeconds(2, () => (refGrads = reference.ssdBackward!(op64, gy)));
    let gemmGrads!: SsdGradients;
    const tGemmBackward = bestOfSeconds(3, () => {
      memory.reset();
      gemmGrads = ssdChunkedGemmBackward(memory, op, gy32);
    });
    for (const k of ["dx", "ddt", "dA", "dB", "dC"] as const) {
      const e = relDiff(gemmGrads[k].data, refGrads[k].data);
      if (e > 1e-3) throw new Error(`ssd bench: the simd SSD backward's ${k} differs by ${e}`);
    }
    const backwardGflops = ssdBackwardFlops(N) / tGemmBackward / 1e9;

    let torchSsd = "-";
    let torchScan = "-";
    let torchBackward = "-";
    let torchBackwardS = 0;
    if (torch) {
      const dir = mkdtempSync(path.join(os.tmpdir(), "ssd-bench-"));
      try {
        for (const [name, t] of Object.entries(inputs)) save(dir, name, t);
        const doScan = E * L * N * 4 * 2 <= TORCH_SCAN_MEMORY ? 1 : 0;
        save(dir, "u", scan.u);
        save(dir, "delta", scan.delta);
        save(dir, "As", scan.A);
        save(dir, "Bs", scan.B);
        save(dir, "Cs", scan.C);
        save(dir, "bias", scan.deltaBias!);
        // Y's gradient in Listing 1's layout: y = (X-form) with X = Δ x, so the same dY.
        save(dir, "g", gy);
        const r = spawnSync(
          PYTHON,
          ["-c", TORCH_SCRIPT, dir, ...[L, H, P, N, Q, E, doScan, 1].map(String), GPU_RUN],
          { encoding: "utf8", timeout: 600_000 },
        );
        if (r.status !== 0) throw new Error(`ssd bench: python failed: ${r.stderr}`);
        const [ssdS, scanS, backwardS, threads] = r.stdout.trim().split(/\s+/).map(Number);
        if (N === STATES[0]) console.log(`PyTorch ran on ${threads} threads.\n`);
        const e1 = relDiff(readF32(path.join(dir, "y_ssd")), chunked!.data);
        torchSsd = `${formatSeconds(ssdS)} (err ${e1.toExponential(0)})`;
        if (doScan) {
          // the same scan in lib: compare the outputs too
          const e2 = relDiff(readF32(path.join(dir, "y_scan")), selectiveScan(scan).out.data);
          torchScan = `${formatSeconds(scanS)} (err ${e2.toExponential(0)})`;
        } else torchScan = `skipped (> ${TORCH_SCAN_MEMORY / 1e6} MB)`;
        const e3 = Math.max(
          relDiff(readF32(path.join(dir, "dB")), refGrads.dB.data),
          relDiff(readF32(path.join(dir, "dC")), refGrads.dC.data),
        );
        torchBackward = `${formatSeconds(backwardS)} (err ${e3.toExponential(0)})`;
        torchBackwardS = backwardS;
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    rows.push([
      String(N),
      formatSeconds(tScan),
      `${formatSeconds(tFast)} (${(tScan / tFast).toFixed(1)}×)`,
      `${formatSeconds(tRec)} (${(tScan / tRec).toFixed(1)}×)`,
      `${formatSeconds(tChunk)} (${(tScan / tChunk).toFixed(1)}×)`,
      (tChunk / tScan).toFixed(2),
      `${gflops.toFixed(2)} (${((100 * gflops) / peak).toFixed(1)}%)`,
      `${formatSeconds(tGemm)} (${(tScan / tGemm).toFixed(1)}×)`,
      `${gemmGflops.toFixed(2)} (${((100 * gemmGflops) / peak).toFixed(1)}%)`,
      torchSsd,
      torchScan,
    ]);
    backwardRows.push([
      String(N),
      formatSeconds(tRefBackward),
      `${formatSeconds(tGemmBackward)} (${(tRefBackward / tGemmBackward).toFixed(1)}×)`,
      `${backwardGflops.toFixed(2)} (${((100 * backwardGflops) / peak).toFixed(1)}%)`,
      (tGemmBackward / tGemm).toFixed(1),
      torchBackward,
      torchBackwardS > 0 ? (tGemmBackward / torchBackwardS).toFixed(2) : "-",
    ]);
  }
  printTable(header, rows);
  console.log(
    "\n(×: speed-up over the TypeScript scan at the same N. Errors: max |torch − lib| / max(1, max |lib|).)",
  );
  console.log(
    `\nThe backward (Mamba-2's training step through the SSD), one random dY; lib on one core:\n`,
  );
  printTable(
    [
      "N",
      "recurrence TS f64",
      "SSD chunked SIMD f32",
      "GFLOP/s (% peak)",
      "÷ its forward",
      "torch autograd",
      "SIMD ÷ torch",
    ],
    backwardRows,
  );
  console.log(
    "\n(×: speed-up over the float64 recurrence's backward (reference.ssdBackward). torch: the backward alone of ssd_minimal_discrete under autograd, its own threads; err: its dB and dC against the recurrence's.)",
  );
}

function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i])).join("  ");
  console.log(line(header));
  for (const r of rows) console.log(line(r));
}

main();
