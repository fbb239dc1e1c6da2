"""PyTorch side of the SSD benchmarks: state-spaces/mamba's ssd_minimal_discrete and its anchors.

  python3 torch_ssd.py anchors DIR b l h p g n q   on the float32 inputs DIR/{X,A,B,C} (the layouts
                                                   of lib's ssdChunked: X (b, l, h, p), A (b, l, h),
                                                   B and C (b, l, g, n)), on CUDA: the float64
                                                   reference (ssd_minimal_discrete in float64,
                                                   written to DIR/ref64) and ssd_minimal_discrete in
                                                   float32, timed with CUDA events (median of 20)
                                                   and checked against the float64 reference

ssd_minimal_discrete is the paper's Listing 1 as mamba_ssm/modules/ssd_minimal.py writes it
(einops' rearranges written as reshapes and permutes): it needs l to be a multiple of the chunk
length and B, C per head, so the g groups are expanded over the h / g heads of each (head hd
reads group hd // (h / g), transformers' repeat_interleave). The CPU benchmark
(lib/scripts/bench/ssd.ts) imports it from here too. Device info and the copy bandwidth come
from torch_scan.py.
"""
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def segsum(x):
    """Stable segment sums: out[..., i, j] = x[..., j+1] + ... + x[..., i], -inf above the diagonal."""
    T = x.size(-1)
    x = x[..., None].expand(*x.size(), T)
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool, device=x.device), diagonal=-1)
    x = x.masked_fill(~mask, 0)
    s = torch.cumsum(x, dim=-2)
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool, device=x.device), diagonal=0)
    return s.masked_fill(~mask, -torch.inf)


def ssd_minimal_discrete(X, A, B, C, block_len):
    """X (b, l, h, p), A (b, l, h), B and C (b, l, h, n); returns y (b, l, h, p)."""
    b, l, h, p = X.shape
    n = B.shape[-1]
    c = l // block_len
    X = X.reshape(b, c, block_len, h, p)
    B = B.reshape(b, c, block_len, h, n)
    C = C.reshape(b, c, block_len, h, n)
    A = A.reshape(b, c, block_len, h).permute(0, 3, 1, 2)
    A_cumsum = torch.cumsum(A, dim=-1)
    # 1. intra-chunk (diagonal blocks)
    L = torch.exp(segsum(A))
    Y_diag = torch.einsum("bclhn,bcshn,bhcls,bcshp->bclhp", C, B, L, X)
    # 2. the state of each chunk (right factor of the off-diagonal blocks)
    decay_states = torch.exp(A_cumsum[:, :, :, -1:] - A_cumsum)
    states = torch.einsum("bclhn,bhcl,bclhp->bchpn", B, decay_states, X)
    # 3. the inter-chunk recurrence
    states = torch.cat([torch.zeros_like(states[:, :1]), states], dim=1)
    decay_chunk = torch.exp(segsum(F.pad(A_cumsum[:, :, :, -1], (1, 0))))
    new_states = torch.einsum("bhzc,bchpn->bzhpn", decay_chunk, states)
    states = new_states[:, :-1]
    # 4. state to output (left factor of the off-diagonal blocks)
    Y_off = torch.einsum("bclhn,bchpn,bhcl->bclhp", C, states, torch.exp(A_cumsum))
    return (Y_diag + Y_off).reshape(b, l, h, p)


def per_head(BC, h):
    """(b, l, g, n) -> (b, l, h, n): group g serves heads g·h/g ... (g+1)·h/g - 1."""
    return BC.repeat_interleave(h // BC.shape[2], dim=2)


def anchors(folder, b, l, h, p, g, n, q):
    from torch_scan import cuda_median, errors, need_cuda

    need_cuda()
    if l % q != 0:
        raise SystemExit(f"torch_ssd.py: ssd_minimal_discrete needs l = {l} to be a multiple of q = {q}")

    def load(name, shape):
        with open(f"{folder}/{name}", "rb") as f:
            data = bytearray(f.read())
        return torch.frombuffer(data, dtype=torch.float32).reshape(shape).to("cuda")

    X, A = load("X", (b, l, h, p)), load("A", (b, l, h))
    B, C = per_head(load("B", (b, l, g, n)), h), per_head(load("C", (b, l, g, n)), h)
    result = {}
    with torch.no_grad():
        t0 = time.perf_counter()
        ref = ssd_minimal_discrete(X.double(), A.double(), B.double(), C.double(), q)
        torch.cuda.synchronize()
        result["ref64Seconds"] = time.perf_counter() - t0
        with open(f"{folder}/ref64", "wb") as f:
            f.write(ref.cpu().contiguous().numpy().tobytes())
        try:
            run = lambda: ssd_minimal_discrete(X, A, B, C, q)
            out = run()
            result["torchSsd"] = {"seconds": cuda_median(run, 20, warmup=3), **errors(out, ref)}
        except Exception as e:  # out of memory at the largest sizes, say
            result["torchSsd"] = {"error": str(e).splitlines()[0][:300]}
    return result


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "anchors" and len(sys.argv) == 10:
        print(json.dumps(anchors(sys.argv[2], *map(int, sys.argv[3:10]))))
    else:
        raise SystemExit(__doc__)
