"""PyTorch reference for `npm run bench -- train`: one full training step (forward, loss,
backward, gradient clipping, AdamW) of the Table 1 model (2 layers, d_model 64, N 16, vocab 16,
tied head), written as a PyTorch user would: the mamba-minimal block (in_proj, depthwise conv1d,
x_proj, dt_proj, a selective scan that walks the positions, gate, out_proj, RMSNorm, residual).
The scan comes two ways (`--scans`, default both):
- `sequential`: walks the positions with `unbind` (indexing `x[:, t]` in the loop makes
  autograd's backward quadratic in the length), as mamba-minimal does;
- `parallel`: a work-efficient parallel scan (Blelloch's pairing, as mamba.py's pscan): combine
  neighbouring positions pairwise, (a2·a1, a2·b1 + b2), scan the half-length sequence of pairs,
  then fill in the positions between; log2(L) levels of whole-tensor ops, O(L) work, written
  out of place so that autograd differentiates it.
CPU, `torch.set_num_threads` threads (default 2).

Prints one JSON object: {"torch": version, "threads": n, "parallel_scan_max_grad_diff": the
largest difference between the two scans' gradients relative to each tensor's largest entry
(float64, one small batch), "results":
[{"scan", "b", "l",
"step_s", "tokens_per_s", "cpu_s"}]}, step_s being the best of `--repeats` timed steps after
one warm-up step and cpu_s the CPU time (all threads) that step used.
Benchmark only: the course does not depend on PyTorch.
"""

import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, d, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def parallel_scan(a, b):
    """h_t = a_t * h_(t-1) + b_t along dim 1 (h_(-1) = 0), for a length that is a power of 2."""
    length = a.shape[1]
    if length == 1:
        return b
    a_even, a_odd = a[:, 0::2], a[:, 1::2]
    b_even, b_odd = b[:, 0::2], b[:, 1::2]
    h_odd = parallel_scan(a_odd * a_even, a_odd * b_even + b_odd)  # h at positions 1, 3, 5, ...
    h_even = torch.cat([b_even[:, :1], a_even[:, 1:] * h_odd[:, :-1] + b_even[:, 1:]], dim=1)
    return torch.stack([h_even, h_odd], dim=2).reshape(b.shape)


class MambaBlock(nn.Module):
    def __init__(self, d_model, d_state=16, expand=2, d_conv=4, scan="sequential"):
        super().__init__()
        self.scan = scan
        self.d_inner = expand * d_model
        self.dt_rank = math.ceil(d_model / 16)
        self.d_state = d_state
        self.in_proj = nn.Linear(d_model, 2 * self.d_inner, bias=False)
        self.conv1d = nn.Conv1d(
            self.d_inner, self.d_inner, kernel_size=d_conv, groups=self.d_inner, padding=d_conv - 1
        )
        self.x_proj = nn.Linear(self.d_inner, self.dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, self.d_inner, bias=True)
        A = torch.arange(1, d_state + 1, dtype=torch.float32).repeat(self.d_inner, 1)
        self.A_log = nn.Parameter(torch.log(A))
        self.D = nn.Parameter(torch.ones(self.d_inner))
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=False)

    def forward(self, x):
        b, l, _ = x.shape
        x, res = self.in_proj(x).split([self.d_inner, self.d_inner], dim=-1)
        x = self.conv1d(x.transpose(1, 2))[:, :, :l].transpose(1, 2)
        x = F.silu(x)
        y = self.ssm(x) * F.silu(res)
        return self.out_proj(y)

    def ssm(self, u):
        A = -torch.exp(self.A_log)
        delta, B, C = self.x_proj(u).split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        delta = F.softplus(self.dt_proj(delta))
        deltaA = torch.exp(torch.einsum("bld,dn->bldn", delta, A))
        deltaB_u = torch.einsum("bld,bln,bld->bldn", delta, B, u)
        if self.scan == "parallel":
            h = parallel_scan(deltaA, deltaB_u)
            return torch.einsum("bldn,bln->bld", h, C) + u * self.D
        x = torch.zeros(u.shape[0], self.d_inner, self.d_state)
        ys = []
        for dA, dBu, c in zip(deltaA.unbind(1), deltaB_u.unbind(1), C.unbind(1)):
            x = dA * x + dBu
            ys.append(torch.einsum("bdn,bn->bd", x, c))
        return torch.stack(ys, dim=1) + u * self.D


class Mamba(nn.Module):
    def __init__(self, vocab=16, d_model=64, n_layers=2, d_state=16, scan="sequential"):
        super().__init__()
        self.embedding = nn.Embedding(vocab, d_model)
        self.norms = nn.ModuleList([RMSNorm(d_model) for _ in range(n_layers)])
        self.mixers = nn.ModuleList([MambaBlock(d_model, d_state, scan=scan) for _ in range(n_layers)])
        self.norm_f = RMSNorm(d_model)

    def forward(self, tokens):
        h = self.embedding(tokens)
        for norm, mixer in zip(self.norms, self.mixers):
            h = mixer(norm(h)) + h
        return self.norm_f(h) @ self.embedding.weight.t()  # tied head


def check_parallel_scan():
    """The two scans' models (float64, same weights, the benchmark's loss on one small batch): the
    largest difference between their gradients, relative to each tensor's largest entry."""
    torch.manual_seed(1)
    seq, par = Mamba(scan="sequential").double(), Mamba(scan="parallel").double()
    par.load_state_dict(seq.state_dict())
    tokens = torch.randint(0, 16, (2, 64))
    for m in (seq, par):
        logits = m(tokens)
        F.cross_entropy(logits[:, :-1].reshape(-1, 16), tokens[:, 1:].reshape(-1)).backward()
    return max(
        ((a.grad - b.grad).abs().max() / a.grad.abs().max()).item()
        for a, b in zip(seq.parameters(), par.parameters())
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--shapes", default="32x256,8x1024")
    ap.add_argument("--scans", default="sequential,parallel")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    results = []
    for scan, shape in ((s, x) for s in args.scans.split(",") for x in args.shapes.split(",")):
        torch.manual_seed(0)
        model = Mamba(scan=scan)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1)
        b, l = (int(s) for s in shape.split("x"))
        tokens = torch.randint(0, 16, (b, l))

        def step():
            logits = model(tokens)
            loss = F.cross_entropy(logits[:, :-1].reshape(-1, 16), tokens[:, 1:].reshape(-1))
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()

        step()  # warm-up
        best, cpu = math.inf, 0.0
        for _ in range(args.repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            step()
            t, c = time.perf_counter() - t0, time.process_time() - c0
            if t < best:
                best, cpu = t, c
        results.append(
            {"scan": scan, "b": b, "l": l, "step_s": best, "tokens_per_s": b * l / best, "cpu_s": cpu}
        )
    check = check_parallel_scan()
    print(
        json.dumps(
            {
                "torch": torch.__version__,
                "threads": args.threads,
                "parallel_scan_max_grad_diff": check,
                "results": results,
            }
        )
    )


if __name__ == "__main__":
    main()
