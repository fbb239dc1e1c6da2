"""PyTorch CUDA side of the GPU scan benchmark (lib/scripts/bench/scan-webgpu.ts): the anchors.

  python3 torch_scan.py info                  device, driver, versions, SMs, SM clock (one JSON line)
  python3 torch_scan.py hbm                   device-to-device copy bandwidth (one JSON line)
  python3 torch_scan.py anchors DIR b d l n   on the float32 inputs DIR/{u,delta,z,A,B,C,D,bias}:
                                              the float64 reference (written to DIR/ref64), PyTorch's
                                              selective_scan_ref in float32 and Mamba's official CUDA
                                              forward (mamba_cuda.py), each timed with CUDA events
                                              and checked against the float64 reference

selective_scan_ref is written from Mamba's reference (mamba_ssm/ops/selective_scan_interface.py),
with delta_softplus on and B, C of layout (b, n, l): it materialises exp(delta A) and delta B u
(b, d, l, n) and loops over l in Python. The float64 reference runs the same recurrence one
position at a time on float64 copies of the inputs (no (b, d, l, n) tensor).
"""
import json
import os
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def selective_scan_ref(u, delta, A, B, C, D, z, delta_bias):
    delta = F.softplus(delta + delta_bias[..., None])
    batch, dim, dstate = u.shape[0], A.shape[0], A.shape[1]
    x = A.new_zeros((batch, dim, dstate))
    deltaA = torch.exp(torch.einsum("bdl,dn->bdln", delta, A))
    deltaB_u = torch.einsum("bdl,bnl,bdl->bdln", delta, B, u)
    ys = []
    for i in range(u.shape[2]):
        x = deltaA[:, :, i] * x + deltaB_u[:, :, i]
        ys.append(torch.einsum("bdn,bn->bd", x, C[:, :, i]))
    y = torch.stack(ys, dim=2)
    return (y + u * D[:, None]) * F.silu(z)


def reference64(u, delta, A, B, C, D, z, delta_bias):
    """The same scan in float64, one position at a time (memory: the state only)."""
    u, delta, A, B, C, D, z, delta_bias = (t.double() for t in (u, delta, A, B, C, D, z, delta_bias))
    dt = F.softplus(delta + delta_bias[..., None])
    x = A.new_zeros((u.shape[0], A.shape[0], A.shape[1]))
    y = torch.empty_like(u)
    dtu = dt * u
    for i in range(u.shape[2]):
        x = torch.exp(dt[:, :, i, None] * A) * x + dtu[:, :, i, None] * B[:, None, :, i]
        y[:, :, i] = (x * C[:, None, :, i]).sum(-1)
    return (y + u * D[:, None]) * F.silu(z)


def cuda_median(fn, repeats, warmup=1):
    """Median seconds of `repeats` runs of fn, each timed with CUDA events, after warm-up runs."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 1000.0)
    times.sort()
    return times[len(times) // 2]


def errors(out, ref):
    """Relative L2 error and max |out - ref| / max(1, max |ref|), against the float64 reference."""
    diff = out.double() - ref
    l2 = (diff.norm() / ref.norm()).item()
    mx = (diff.abs().max() / max(1.0, ref.abs().max().item())).item()
    finite = bool(torch.isfinite(out).all().item())
    return {"relL2": l2 if finite else float("inf"), "relMax": mx if finite else float("inf")}


def need_cuda():
    if not torch.cuda.is_available():
        raise SystemExit("torch_scan.py: CUDA is not available to this torch")


def smi(query):
    try:
        return subprocess.run(["nvidia-smi", f"--query-gpu={query}", "--format=csv,noheader,nounits"],
                              capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def info():
    need_cuda()
    p = torch.cuda.get_device_properties(0)
    clock = smi("clocks.max.sm")
    return {
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "device": torch.cuda.get_device_name(0),
        "memoryGiB": round(p.total_memory / 2**30, 1),
        "driver": smi("driver_version"),
        "sms": p.multi_processor_count,
        "smClockMHz": float(clock) if clock.replace(".", "").isdigit() else None,
    }


def hbm():
    """Copy bandwidth: a copy of `size` bytes reads and writes `size` bytes each (median of 10)."""
    need_cuda()
    size = 4 * 2**30
    src = torch.empty(size // 4, dtype=torch.float32, device="cuda").uniform_()
    dst = torch.empty_like(src)
    s = cuda_median(lambda: dst.copy_(src), 10, warmup=2)
    return {"bytes": size, "seconds": s, "bytesPerSecond": 2 * size / s}


def anchors(folder, b, d, l, n):
    need_cuda()

    def load(name, shape):
        with open(f"{folder}/{name}", "rb") as f:
            data = bytearray(f.read())
        return torch.frombuffer(data, dtype=torch.float32).reshape(shape).to("cuda")

    u, delta, z = (load(k, (b, d, l)) for k in ("u", "delta", "z"))
    A = load("A", (d, n))
    B, C = load("B", (b, n, l)), load("C", (b, n, l))
    D, bias = load("D", (d,)), load("bias", (d,))
    result = {}
    with torch.no_grad():
        t0 = time.perf_counter()
        ref = reference64(u, delta, A, B, C, D, z, bias)
        torch.cuda.synchronize()
        result["ref64Seconds"] = time.perf_counter() - t0
        with open(f"{folder}/ref64", "wb") as f:
            f.write(ref.cpu().contiguous().numpy().tobytes())
        try:
            run = lambda: selective_scan_ref(u, delta, A, B, C, D, z, bias)
            out = run()
            result["torchRef"] = {"seconds": cuda_median(run, 3), **errors(out, ref)}
            del out
        except Exception as e:  # out of memory at the largest sizes, say
            result["torchRef"] = {"error": str(e).splitlines()[0][:300]}
        torch.cuda.empty_cache()
        try:
            import mamba_cuda
            ext = mamba_cuda.load()
            B4, C4 = B.unsqueeze(1).contiguous(), C.unsqueeze(1).contiguous()
            run = lambda: ext.fwd(u, delta, A, B4, C4, D, z, bias, True)
            out = run()[2]
            result["official"] = {"seconds": cuda_median(run, 20, warmup=3), **errors(out, ref),
                                  "build": mamba_cuda.build_info()}
        except Exception as e:
            result["official"] = {"error": str(e).splitlines()[0][:300] if str(e) else repr(e)}
    return result


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "info":
        print(json.dumps(info()))
    elif cmd == "hbm":
        print(json.dumps(hbm()))
    elif cmd == "anchors" and len(sys.argv) == 7:
        print(json.dumps(anchors(sys.argv[2], *map(int, sys.argv[3:7]))))
    else:
        raise SystemExit(__doc__)
