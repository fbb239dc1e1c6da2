"""PyTorch reference for `npm run bench -- train`: one full training step (forward, loss,
backward, gradient clipping, AdamW) of the Table 1 model (2 layers, d_model 64, N 16, vocab 16,
tied head), written as a PyTorch user would: the mamba-minimal block (in_proj, depthwise conv1d,
x_proj, dt_proj, a selective scan that walks the positions, gate, out_proj, RMSNorm, residual).
The scan walks positions with `unbind` (indexing `x[:, t]` in the loop makes autograd's backward
quadratic in the length). CPU, `torch.set_num_threads` threads (default 2).

Prints one JSON object: {"torch": version, "threads": n, "results": [{"b", "l", "step_s",
"tokens_per_s", "cpu_s"}]}, step_s being the best of `--repeats` timed steps after one warm-up
step and cpu_s the CPU time (all threads) that step used.
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


class MambaBlock(nn.Module):
    def __init__(self, d_model, d_state=16, expand=2, d_conv=4):
        super().__init__()
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
        x = torch.zeros(u.shape[0], self.d_inner, self.d_state)
        ys = []
        for dA, dBu, c in zip(deltaA.unbind(1), deltaB_u.unbind(1), C.unbind(1)):
            x = dA * x + dBu
            ys.append(torch.einsum("bdn,bn->bd", x, c))
        return torch.stack(ys, dim=1) + u * self.D


class Mamba(nn.Module):
    def __init__(self, vocab=16, d_model=64, n_layers=2, d_state=16):
        super().__init__()
        self.embedding = nn.Embedding(vocab, d_model)
        self.norms = nn.ModuleList([RMSNorm(d_model) for _ in range(n_layers)])
        self.mixers = nn.ModuleList([MambaBlock(d_model, d_state) for _ in range(n_layers)])
        self.norm_f = RMSNorm(d_model)

    def forward(self, tokens):
        h = self.embedding(tokens)
        for norm, mixer in zip(self.norms, self.mixers):
            h = mixer(norm(h)) + h
        return self.norm_f(h) @ self.embedding.weight.t()  # tied head


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--shapes", default="32x256,8x1024")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = Mamba()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1)
    results = []
    for shape in args.shapes.split(","):
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
            {"b": b, "l": l, "step_s": best, "tokens_per_s": b * l / best, "cpu_s": cpu}
        )
    print(json.dumps({"torch": torch.__version__, "threads": args.threads, "results": results}))


if __name__ == "__main__":
    main()
