/**
 * Benchmark: the three ways to run an LTI SSM over a sequence of length L.
 *
 * - recurrence:  h_k = Ā h_{k-1} + B̄ x_k, y_k = C h_k (`ssmRecurrence`), dense Ā: O(L·N²)
 * - direct conv: y = K * x from the definition (`causalConv`): O(L²)
 * - FFT conv:    zero-pad to a power of two >= 2L, real FFTs, multiply, inverse (`fftConv`): O(L log L)
 *
 * All three are measured in this run, single-threaded float64 on the CPU, for L = 2^8 … 2^18, with
 * the recurrence as the baseline of the ratio columns. The kernel K (`ssmKernel`, O(L·N²)) is
 * timed separately: in training it is computed once per batch and shared by every sequence. The
 * direct convolution stops once its next size is predicted (4x the last time) to take more than a
 * few seconds. The scaling exponent of each method is the least-squares slope of log time against
 * log L over the sizes from 2^10 up (smaller sizes are dominated by fixed overheads).
 *
 * Run: `npm run bench -- conv` (after `npm run build`).
 */
import { causalConv, fftConv } from "../../dist/conv/convolve";
import { ssmKernel } from "../../dist/conv/kernel";
import { ssmRecurrence } from "../../dist/ssm/recurrence";
import { Rng } from "../../dist/rng";
import type { Tensor } from "../../dist/tensor";
import { powerLawFit, timeMs } from "../../dist/timing";

/** A random stable system of state size n: Ā = 0.95 M/‖M‖_F (spectral radius < 0.95). */
function stableSystem(rng: Rng, n: number): { Abar: Tensor; Bbar: Tensor; C: Tensor } {
  const m = rng.randn([n, n]);
  let fro = 0;
  for (const v of m.data) fro += v * v;
  const s = 0.95 / Math.sqrt(fro);
  return {
    Abar: { shape: [n, n], data: m.data.map((v) => v * s) },
    Bbar: rng.randn([n, 1]),
    C: rng.randn([1, n]),
  };
}

function main(): void {
  const N = 16;
  const budgetMs = 3000;
  const rng = new Rng(2024);
  const { Abar, Bbar, C } = stableSystem(rng, N);
  console.log(
    `LTI SSM over one sequence, state size N = ${N}, float64, single-threaded CPU (Node ${process.version}).`,
  );
  console.log("Baseline for ratios: the recurrence (ssmRecurrence, dense Ā: O(L·N²)).");
  console.log(
    "direct = causalConv (O(L²)); fft = fftConv (radix-2 real FFT, padded to 2^⌈log2(2L-1)⌉).\n",
  );
  const header = [
    "L",
    "kernel ms",
    "recurrence ms",
    "direct ms",
    "fft ms",
    "direct/rec",
    "fft/rec",
    "max|fft-rec|",
  ];
  console.log(header.map((h, i) => (i === 0 ? h.padEnd(8) : h.padStart(14))).join(""));
  // Warm up every code path (JIT) before the first measurement.
  {
    const x = rng.randn([1024]);
    const K = ssmKernel(Abar, Bbar, C, 1024);
    for (let i = 0; i < 5; i++) {
      ssmRecurrence(Abar, Bbar, C, x);
      causalConv(x, K);
      fftConv(x, K);
      ssmKernel(Abar, Bbar, C, 1024);
    }
  }
  const rows: { L: number; rec: number; direct: number | null; fft: number }[] = [];
  let lastDirect = 0;
  let directStopped = "";
  for (let p = 8; p <= 18; p++) {
    const L = 2 ** p;
    const x = rng.randn([L]);
    const K = ssmKernel(Abar, Bbar, C, L);
    const kernelMs = timeMs(() => ssmKernel(Abar, Bbar, C, L), { repeats: 1 });
    const rec = timeMs(() => ssmRecurrence(Abar, Bbar, C, x), { minMs: 30 });
    const fft = timeMs(() => fftConv(x, K), { minMs: 30 });
    let direct: number | null = null;
    if (directStopped === "" && (lastDirect === 0 || 4 * lastDirect <= budgetMs)) {
      direct = timeMs(() => causalConv(x, K), { repeats: lastDirect * 4 > 500 ? 1 : 3, minMs: 30 });
      lastDirect = direct;
    } else if (directStopped === "") {
      directStopped = `direct conv stopped after L = ${L / 2}: L = ${L} would take about ${((4 * lastDirect) / 1000).toFixed(1)} s (4x the last time), over the ${budgetMs / 1000} s budget.`;
    }
    const yRec = ssmRecurrence(Abar, Bbar, C, x).data;
    const yFft = fftConv(x, K).data;
    let err = 0;
    for (let i = 0; i < L; i++) err = Math.max(err, Math.abs(yRec[i] - yFft[i]));
    rows.push({ L, rec, direct, fft });
    const cells = [
      `2^${p}`,
      kernelMs.toFixed(3),
      rec.toFixed(3),
      direct === null ? "-" : direct.toFixed(3),
      fft.toFixed(3),
      direct === null ? "-" : (direct / rec).toFixed(2),
      (fft / rec).toFixed(2),
      err.toExponential(1),
    ];
    console.log(cells.map((c, i) => (i === 0 ? c.padEnd(8) : c.padStart(14))).join(""));
  }
  if (directStopped) console.log(`\n${directStopped}`);
  const fit = rows.filter((r) => r.L >= 1024);
  const slope = (pick: (r: (typeof rows)[number]) => number | null): string => {
    const pts = fit.filter((r) => pick(r) !== null);
    if (pts.length < 2) return "n/a";
    const s = powerLawFit(
      pts.map((r) => r.L),
      pts.map((r) => pick(r)!),
    ).exponent;
    return `${s.toFixed(2)} (over L = 2^${Math.log2(pts[0].L)} … 2^${Math.log2(pts[pts.length - 1].L)})`;
  };
  console.log("\nFitted scaling exponents (time ∝ L^slope):");
  console.log(`  recurrence  ${slope((r) => r.rec)}   expected 1`);
  console.log(`  direct conv ${slope((r) => r.direct)}   expected 2`);
  console.log(`  FFT conv    ${slope((r) => r.fft)}   expected ~1 (L log L: slightly above 1)`);
}

if (require.main === module) main();
