"""PyTorch reference for `npm run bench -- transformer`: one full training step (forward, loss,
backward, gradient clipping, AdamW) of the benchmark's Transformer++ (the LLaMA recipe: pre-RMSNorm,
rotary positions, SwiGLU, no biases, grouped-query attention, tied head), written two ways a
PyTorch user would:

- "sdpa": a compact LLaMA whose attention is `F.scaled_dot_product_attention(is_causal=True)`
  (PyTorch's fused CPU attention kernel, forward and backward);
- "hf": transformers' own `LlamaForCausalLM` with `attn_implementation="sdpa"` (when transformers
  imports), the same sizes, loss from its `labels`.

CPU, `torch.set_num_threads` threads (default 2). Prints one JSON object: {"torch": version,
"torch_file": where torch was imported from, "transformers": version or null, "threads": n,
"results": [{"impl", "b", "l", "step_s", "tokens_per_s", "cpu_s"}]}, step_s being the best of
`--repeats` timed steps after one warm-up step and cpu_s the CPU time (all threads) that step used.
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
    def __init__(self, d, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


class Attention(nn.Module):
    def __init__(self, d, heads, kv_heads, head_dim):
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, head_dim
        self.q_proj = nn.Linear(d, heads * head_dim, bias=False)
        self.k_proj = nn.Linear(d, kv_heads * head_dim, bias=False)
        self.v_proj = nn.Linear(d, kv_heads * head_dim, bias=False)
        self.o_proj = nn.Linear(heads * head_dim, d, bias=False)

    def forward(self, x, cos, sin):
        b, l, _ = x.shape
        q = self.q_proj(x).view(b, l, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, l, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, l, self.kv_heads, self.head_dim).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if self.kv_heads != self.heads:  # repeat_kv
            k = k.repeat_interleave(self.heads // self.kv_heads, dim=1)
            v = v.repeat_interleave(self.heads // self.kv_heads, dim=1)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.o_proj(y.transpose(1, 2).reshape(b, l, -1))


class Block(nn.Module):
    def __init__(self, d, inter, heads, kv_heads, head_dim, eps):
        super().__init__()
        self.input_layernorm = RMSNorm(d, eps)
        self.self_attn = Attention(d, heads, kv_heads, head_dim)
        self.post_attention_layernorm = RMSNorm(d, eps)
        self.gate_proj = nn.Linear(d, inter, bias=False)
        self.up_proj = nn.Linear(d, inter, bias=False)
        self.down_proj = nn.Linear(inter, d, bias=False)

    def forward(self, h, cos, sin):
        h = h + self.self_attn(self.input_layernorm(h), cos, sin)
        m = self.post_attention_layernorm(h)
        return h + self.down_proj(F.silu(self.gate_proj(m)) * self.up_proj(m))


class Llama(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.embed_tokens = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = nn.ModuleList(
            [
                Block(
                    c["hidden_size"],
                    c["intermediate_size"],
                    c["num_attention_heads"],
                    c["num_key_value_heads"],
                    c["head_dim"],
                    c["rms_norm_eps"],
                )
                for _ in range(c["num_hidden_layers"])
            ]
        )
        self.norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        hd = c["head_dim"]
        self.inv_freq = 1.0 / (c["rope_theta"] ** (torch.arange(0, hd, 2).float() / hd))

    def forward(self, tokens):
        l = tokens.shape[1]
        angles = torch.outer(torch.arange(l).float(), self.inv_freq)
        emb = torch.cat((angles, angles), dim=-1)
        cos, sin = emb.cos(), emb.sin()
        h = self.embed_tokens(tokens)
        for layer in self.layers:
            h = layer(h, cos, sin)
        return self.norm(h) @ self.embed_tokens.weight.t()  # tied head


def hf_model(c):
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(
        vocab_size=c["vocab_size"],
        hidden_size=c["hidden_size"],
        intermediate_size=c["intermediate_size"],
        num_hidden_layers=c["num_hidden_layers"],
        num_attention_heads=c["num_attention_heads"],
        num_key_value_heads=c["num_key_value_heads"],
        head_dim=c["head_dim"],
        rms_norm_eps=c["rms_norm_eps"],
        rope_theta=float(c["rope_theta"]),
        tie_word_embeddings=True,
        max_position_embeddings=8192,
        attn_implementation="sdpa",
    )
    return LlamaForCausalLM(cfg)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True, help="the model's sizes, JSON")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--shapes", default="32x256,8x1024,4x2048")
    ap.add_argument("--impls", default="sdpa,hf")
    args = ap.parse_args()
    c = json.loads(args.config)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    try:
        import transformers

        hf_version = transformers.__version__
    except ImportError:
        hf_version = None
    results = []
    V = c["vocab_size"]
    for impl in args.impls.split(","):
        if impl == "hf" and hf_version is None:
            continue
        model = Llama(c) if impl == "sdpa" else hf_model(c)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1)
        for shape in args.shapes.split(","):
            b, l = (int(s) for s in shape.split("x"))
            tokens = torch.randint(0, V, (b, l))

            def step():
                if impl == "sdpa":
                    logits = model(tokens)
                    loss = F.cross_entropy(
                        logits[:, :-1].reshape(-1, V), tokens[:, 1:].reshape(-1)
                    )
                else:
                    loss = model(input_ids=tokens, labels=tokens).loss
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()

            step()  # warm-up
            best, cpu = math.inf, 0.0
            for _ in range(args.repeats):
                t0, c0 = time.perf_counter(), time.process_time()
                step()
                t, cp = time.perf_counter() - t0, time.process_time() - c0
                if t < best:
                    best, cpu = t, cp
            results.append(
                {
                    "impl": impl,
                    "b": b,
                    "l": l,
                    "step_s": best,
                    "tokens_per_s": b * l / best,
                    "cpu_s": cpu,
                }
            )
    print(
        json.dumps(
            {
                "torch": torch.__version__,
                "torch_file": torch.__file__,
                "transformers": hf_version,
                "threads": args.threads,
                "results": results,
            }
        )
    )


if __name__ == "__main__":
    main()
