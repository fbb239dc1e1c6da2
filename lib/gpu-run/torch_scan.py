"""PyTorch CUDA side of the WebGPU scan benchmark (lib/scripts/bench/scan-webgpu.ts).

  python3 torch_scan.py info                 device, driver, versions (one JSON line)
  python3 torch_scan.py hbm                  device-to-device copy bandwidth (one JSON line)
  python3 torch_scan.py scan DIR b d l n     selective_scan_ref on CUDA over the float32 inputs
                                             DIR/{u,delta,z,A,B,C,D,bias}; writes DIR/out

selective_scan_ref is written from the equations of Mamba's reference (arXiv 2312.00752, Alg. 2;
mamba_ssm/ops/selective_scan_interface.py), with delta_softplus on and B, C of layout (b, n, l):
  delta <- softplus(delta + delta_bias)
  deltaA = exp(delta (x) A)          (b, d, l, n)
  deltaB_u = delta * B * u           (b, d, l, n)
  x_t = deltaA_t * x_{t-1} + deltaB_u_t,   y_t = <x_t, C_t>
  out = (y + D u) * silu(z)
It materialises the (b, d, l, n) tensors and loops over l in Python, as the reference does.
"""
import json
import subprocess
import sys
import time

import torch
import torch.nn.functional as F


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


def cuda_seconds(fn, repeats):
    """Best of `repeats` runs of fn, timed with CUDA events (after one warm-up run)."""
    fn()
    torch.cuda.synchronize()
    best = float("inf")
    for _ in range(repeats):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        best = min(best, start.elapsed_time(end) / 1000.0)
    return best


def need_cuda():
    if not torch.cuda.is_available():
        raise SystemExit("torch_scan.py: CUDA is not available to this torch")


def info():
    need_cuda()
    driver = "unknown"
    try:
        driver = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=60,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    p = torch.cuda.get_device_properties(0)
    return {
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "device": torch.cuda.get_device_name(0),
        "memoryGiB": round(p.total_memory / 2**30, 1),
        "driver": driver,
    }


def hbm():
    """Copy bandwidth: a copy of `size` bytes reads and writes `size` bytes each."""
    need_cuda()
    size = 4 * 2**30
    src = torch.empty(size // 4, dtype=torch.float32, device="cuda").uniform_()
    dst = torch.empty_like(src)
    s = cuda_seconds(lambda: dst.copy_(src), 10)
    return {"bytes": size, "seconds": s, "bytesPerSecond": 2 * size / s}


def scan(folder, b, d, l, n):
    need_cuda()

    def load(name, shape):
        with open(f"{folder}/{name}", "rb") as f:
            data = bytearray(f.read())
        return torch.frombuffer(data, dtype=torch.float32).reshape(shape)

    host = {
        "u": load("u", (b, d, l)), "delta": load("delta", (b, d, l)), "z": load("z", (b, d, l)),
        "A": load("A", (d, n)), "B": load("B", (b, n, l)), "C": load("C", (b, n, l)),
        "D": load("D", (d,)), "bias": load("bias", (d,)),
    }
    upload = lambda: {k: v.to("cuda") for k, v in host.items()}
    dev = upload()
    run = lambda: selective_scan_ref(
        dev["u"], dev["delta"], dev["A"], dev["B"], dev["C"], dev["D"], dev["z"], dev["bias"])
    with torch.no_grad():
        seconds = cuda_seconds(run, 3)
        out = run()
        transfer = float("inf")
        for _ in range(3):
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            upload()
            out.to("cpu")
            torch.cuda.synchronize()
            transfer = min(transfer, time.perf_counter() - t0)
    with open(f"{folder}/out", "wb") as f:
        f.write(out.cpu().contiguous().numpy().tobytes())
    return {"seconds": seconds, "transferSeconds": transfer}


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "info":
        print(json.dumps(info()))
    elif cmd == "hbm":
        print(json.dumps(hbm()))
    elif cmd == "scan" and len(sys.argv) == 7:
        print(json.dumps(scan(sys.argv[2], *map(int, sys.argv[3:7]))))
    else:
        raise SystemExit(__doc__)
