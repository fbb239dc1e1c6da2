/**
 * Benchmark: the Mamba language model, forward (a whole sequence in parallel) and decoding (one
 * token at a time with the constant-size cache), measured in one run.
 *
 * Configurations: d_model 64, 256 and 768, 2 layers, N 16, vocab 50280 for d_model 768 and 4096
 * for the smaller ones; forward over one sequence of FORWARD_LEN tokens with the engines "simd"
 * (WebAssembly SIMD) and "typescript" (the reference ops), decoding DECODE_STEPS tokens ("simd").
 * It prints tokens/s, the ratio to the fastest configuration of the same mode, and the cache's bytes per
 * sequence (constant over the positions). When the benchmarks' Python (`../bench-python.ts`) has torch, the same model (saved
 * as a checkpoint and read back by the inline script below) runs in PyTorch on the CPU, and its
 * logits are compared with ours; otherwise that column says "skipped: no torch".
 *
 * Run: `npm run bench -- model` (after `npm run build`).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Rng } from "../../dist/rng";
import { bestOfSeconds } from "../../dist/timing";
import { initMamba } from "../../dist/mamba/init";
import { mambaForward } from "../../dist/mamba/forward";
import type { MambaEngine } from "../../dist/mamba/engine";
import { createMambaCache, mambaCacheBytes, mambaStep } from "../../dist/mamba/cache";
import { saveMambaCheckpoint } from "../../dist/mamba/checkpoint";
import { torchPython } from "../bench-python";

/** The benchmarks' Python with torch (`../bench-python.ts`), or "" when there is none. */
const FOUND = torchPython();
const PYTHON = "why" in FOUND ? "" : FOUND.python;
const FORWARD_LEN = 128;
const DECODE_STEPS = 32;
const CONFIGS = [
  { hidden_size: 64, vocab_size: 4096 },
  { hidden_size: 256, vocab_size: 4096 },
  { hidden_size: 768, vocab_size: 50280 },
];

/** The same model in PyTorch, from our checkpoint (safetensors parsed by hand, F32). */
const TORCH_SCRIPT = `
import json, struct, sys, time, math, torch
import torch.nn.functional as F
folder, L, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
cfg = json.load(open(folder + '/config.json'))
raw = open(folder + '/model.safetensors', 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
header = json.loads(raw[8:8 + n])
P = {k: torch.frombuffer(bytearray(raw[8 + n + v['data_offsets'][0]:8 + n + v['data_offsets'][1]]), dtype=torch.float32).reshape(v['shape'])
     for k, v in header.items() if k != '__metadata__'}
E, N, R, K, eps = cfg['intermediate_size'], cfg['state_size'], cfg['time_step_rank'], cfg['conv_kernel'], cfg['layer_norm_epsilon']
def rms(x, w): return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w
def mixer(i, u):
    m = 'backbone.layers.%d.mixer.' % i
    l = u.shape[1]
    xz = (u @ P[m + 'in_proj.weight'].T).transpose(1, 2)
    x, z = xz[:, :E], xz[:, E:]
    x = F.silu(F.conv1d(x, P[m + 'conv1d.weight'], P[m + 'conv1d.bias'], padding=K - 1, groups=E)[..., :l])
    dbl = x.transpose(1, 2) @ P[m + 'x_proj.weight'].T
    dt, B, C = dbl[..., :R], dbl[..., R:R + N], dbl[..., R + N:]
    delta = F.softplus(dt @ P[m + 'dt_proj.weight'].T + P[m + 'dt_proj.bias'])
    A = -torch.exp(P[m + 'A_log'])
    h = torch.zeros(u.shape[0], E, N)
    ys = []
    for t in range(l):
        h = torch.exp(delta[:, t, :, None] * A) * h + delta[:, t, :, None] * B[:, t, None, :] * x[:, :, t, None]
        ys.append((h * C[:, t, None, :]).sum(-1))
    y = (torch.stack(ys, 2) + x * P[m + 'D'][:, None]) * F.silu(z)
    return y.transpose(1, 2) @ P[m + 'out_proj.weight'].T
def forward(ids):
    h = P['backbone.embeddings.weight'][ids]
    for i in range(cfg['num_hidden_layers']):
        h = h + mixer(i, rms(h, P['backbone.layers.%d.norm.weight' % i]))
    return rms(h, P['backbone.norm_f.weight']) @ P['backbone.embeddings.weight'].T
ids = torch.tensor([[int(t) for t in open(folder + '/tokens').read().split()]])
with torch.no_grad():
    t0 = time.perf_counter(); logits = forward(ids); fwd = time.perf_counter() - t0
open(folder + '/logits', 'wb').write(logits[0, :, :].contiguous().numpy().tobytes())
print(fwd, torch.__version__, torch.get_num_threads())
`;

function torchVersion(): string | null {
  return "why" in FOUND ? null : FOUND.torch;
}

interface Row {
  d: number;
  vocab: number;
  params: number;
  fast: number;
  reference: number;
  decode: number;
  cacheBytes: number;
  torch: string;
}

function main(): void {
  const torch = torchVersion();
  console.log(
    `forward: 1 sequence of ${FORWARD_LEN} tokens; decode: ${DECODE_STEPS} steps with the cache; 2 layers, N 16, expand 2.`,
  );
  console.log(
    torch
      ? `PyTorch ${torch} at ${PYTHON}: the same model runs in torch.`
      : "PyTorch: skipped: no torch",
  );
  const rows: Row[] = [];
  for (const c of CONFIGS) {
    const model = initMamba({ ...c, num_hidden_layers: 2 }, new Rng(0));
    const rng = new Rng(1);
    const ids = Array.from({ length: FORWARD_LEN }, () => rng.int(c.vocab_size));
    const repeats = c.hidden_size >= 768 ? 1 : 3;
    const time = (engine: MambaEngine) => {
      mambaForward(model, [ids.slice(0, 8)], { engine }); // warm-up: JIT and WebAssembly compilation
      return bestOfSeconds(repeats, () => mambaForward(model, [ids], { engine }));
    };
    const fast = time("simd");
    const reference = time("typescript");
    const cache = createMambaCache(model, 1);
    mambaStep(model, cache, [ids[0]]); // warm-up
    const decode = bestOfSeconds(1, () => {
      for (let i = 0; i < DECODE_STEPS; i++) mambaStep(model, cache, [ids[i % ids.length]]);
    });
    let torchNote = "skipped: no torch";
    if (torch) torchNote = runTorch(model, ids);
    let params = 0;
    for (const t of model.params.values()) params += t.data.length;
    rows.push({
      d: c.hidden_size,
      vocab: c.vocab_size,
      params,
      fast: FORWARD_LEN / fast,
      reference: FORWARD_LEN / reference,
      decode: DECODE_STEPS / decode,
      cacheBytes: mambaCacheBytes(cache),
      torch: torchNote,
    });
  }
  const bestFwd = Math.max(...rows.map((r) => r.fast));
  const bestDec = Math.max(...rows.map((r) => r.decode));
  console.log(
    [
      "d_model".padStart(7),
      "vocab".padStart(6),
      "params".padStart(11),
      "fwd tok/s (simd)".padStart(17),
      "ratio".padStart(6),
      "fwd tok/s (ts)".padStart(16),
      "decode tok/s".padStart(13),
      "ratio".padStart(6),
      "cache B/seq".padStart(12),
      "  PyTorch CPU",
    ].join(" "),
  );
  for (const r of rows) {
    console.log(
      [
        String(r.d).padStart(7),
        String(r.vocab).padStart(6),
        r.params.toLocaleString("en-US").padStart(11),
        r.fast.toFixed(1).padStart(17),
        (r.fast / bestFwd).toFixed(3).padStart(6),
        r.reference.toFixed(1).padStart(16),
        r.decode.toFixed(1).padStart(13),
        (r.decode / bestDec).toFixed(3).padStart(6),
        String(r.cacheBytes).padStart(12),
        "  " + r.torch,
      ].join(" "),
    );
  }
  console.log(
    "ratio: tokens/s relative to the fastest configuration in the same mode; cache bytes do not depend on the position.",
  );
}

/** Runs the model in PyTorch; returns its forward tokens/s and the largest logit difference. */
function runTorch(model: Parameters<typeof saveMambaCheckpoint>[0], ids: number[]): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "bench-model-"));
  try {
    saveMambaCheckpoint(model, dir);
    writeFileSync(path.join(dir, "tokens"), ids.join(" "));
    const r = spawnSync(
      PYTHON,
      ["-c", TORCH_SCRIPT, dir, String(ids.length), String(DECODE_STEPS)],
      {
        encoding: "utf8",
        timeout: 600_000,
      },
    );
    if (r.status !== 0) return `torch failed: ${r.stderr.trim().split("\n").pop()}`;
    const [secs, , threads] = r.stdout.trim().split(/\s+/);
    const theirs = new Float32Array(new Uint8Array(readFileSync(path.join(dir, "logits"))).buffer);
    const ours = mambaForward(model, [ids]).data;
    let scale = 1;
    let err = 0;
    for (let i = 0; i < ours.length; i++) {
      scale = Math.max(scale, Math.abs(theirs[i]));
      err = Math.max(err, Math.abs(ours[i] - theirs[i]));
    }
    return `${(ids.length / Number(secs)).toFixed(1)} fwd tok/s (${threads} threads), logits rel. diff ${(err / scale).toExponential(1)}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
