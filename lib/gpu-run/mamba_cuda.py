"""Builds and loads Mamba's official CUDA selective-scan forward, fp32 only, on the GPU machine.

  python3 mamba_cuda.py build      builds it from the sources staged by stage.mjs (--mamba):
                                   <staging>/mamba/csrc/selective_scan (or $MAMBA_CSRC), state-spaces/mamba's
                                   files, unchanged except selective_scan.cpp, which is patched in
                                   a scratch copy: the backward and the half/bf16/complex
                                   dispatch are cut, so only selective_scan_fwd_cuda<float, float>
                                   (instantiated by a two-line .cu written here) is compiled.
                                   Writes /tmp/mamba-cuda/done.json (or failed.json).

From Python: `import mamba_cuda; ext = mamba_cuda.load()` waits for that build, then
`ext.fwd(u, delta, A, B, C, D, z, delta_bias, delta_softplus)` is upstream's selective_scan_fwd
(B, C as (b, groups, n, l)); it returns [out, chunk states, out_z].
"""
import json
import os
import re
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# the staged sources: MAMBA_CSRC, else <staging>/mamba/csrc/selective_scan (this file is in
# <staging>/lib/gpu-run)
SRC = os.environ.get("MAMBA_CSRC", os.path.join(HERE, "..", "..", "mamba", "csrc", "selective_scan"))
WORK = "/tmp/mamba-cuda"
NAME = "selective_scan_fp32_fwd"
CUDA_FLAGS = [
    "-O3", "-std=c++17", "--use_fast_math", "--expt-relaxed-constexpr", "--expt-extended-lambda",
    "-U__CUDA_NO_HALF_OPERATORS__", "-U__CUDA_NO_HALF_CONVERSIONS__",
    "-U__CUDA_NO_BFLOAT16_OPERATORS__", "-U__CUDA_NO_BFLOAT16_CONVERSIONS__",
    "-gencode=arch=compute_90,code=sm_90", "--ptxas-options=-v", "-lineinfo",
]


def prepare():
    src = os.path.join(WORK, "src")
    shutil.rmtree(src, ignore_errors=True)
    shutil.copytree(SRC, src)
    cpp = os.path.join(src, "selective_scan.cpp")
    text = open(cpp).read()
    start = text.index("std::vector<at::Tensor>\nselective_scan_bwd(")
    end = text.index("PYBIND11_MODULE")
    text = text[:start] + text[end:]
    text = re.sub(r'\s*m\.def\("bwd".*?;', "", text)
    text, count = re.subn(
        r'DISPATCH_ITYPE_FLOAT_AND_HALF_AND_BF16\(u\.scalar_type\(\), "selective_scan_fwd", \[&\] \{.*?\}\);\s*\}\);',
        'TORCH_CHECK(input_type == at::ScalarType::Float && weight_type == at::ScalarType::Float, '
        '"this build holds only the fp32 forward");\n    selective_scan_fwd_cuda<float, float>(params, stream);',
        text, flags=re.S)
    if count != 1:
        raise SystemExit("mamba_cuda.py: selective_scan.cpp no longer has the dispatch this script patches")
    open(cpp, "w").write(text)
    cu = os.path.join(src, "selective_scan_fwd_fp32_only.cu")
    open(cu, "w").write('#include "selective_scan_fwd_kernel.cuh"\n'
                        "template void selective_scan_fwd_cuda<float, float>(SSMParamsBase &params, cudaStream_t stream);\n")
    return [cpp, cu]


def _load(sources, verbose):
    from torch.utils.cpp_extension import load as load_ext
    build = os.path.join(WORK, "build")
    os.makedirs(build, exist_ok=True)
    return load_ext(name=NAME, sources=sources, extra_cflags=["-O3", "-std=c++17"],
                    extra_cuda_cflags=CUDA_FLAGS, build_directory=build, verbose=verbose)


def build():
    os.makedirs(WORK, exist_ok=True)
    for f in ("done.json", "failed.json"):
        if os.path.exists(os.path.join(WORK, f)):
            os.remove(os.path.join(WORK, f))
    t0 = time.time()
    try:
        if not os.path.isdir(SRC):
            raise RuntimeError(f"no sources at {SRC} (stage with --mamba)")
        sources = prepare()
        _load(sources, verbose=True)
        commit = open(os.path.join(SRC, "..", "..", "COMMIT")).read().strip()
        info = {"seconds": time.time() - t0, "sources": commit, "flags": CUDA_FLAGS}
        json.dump(info, open(os.path.join(WORK, "done.json"), "w"))
        print(f"mamba_cuda: built in {info['seconds']:.1f} s from {commit}")
    except Exception as e:  # the benchmark reports the reason in its table
        json.dump({"error": str(e)[-2000:]}, open(os.path.join(WORK, "failed.json"), "w"))
        print(f"mamba_cuda: build failed: {e}", file=sys.stderr)
        raise


def load(timeout=600):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if os.path.exists(os.path.join(WORK, "done.json")):
            return _load([os.path.join(WORK, "src", "selective_scan.cpp"),
                          os.path.join(WORK, "src", "selective_scan_fwd_fp32_only.cu")], verbose=False)
        if os.path.exists(os.path.join(WORK, "failed.json")):
            raise RuntimeError("build failed: " + json.load(open(os.path.join(WORK, "failed.json")))["error"][-300:])
        time.sleep(1)
    raise RuntimeError("build did not finish in time")


def build_info():
    p = os.path.join(WORK, "done.json")
    return json.load(open(p)) if os.path.exists(p) else None


if __name__ == "__main__":
    if sys.argv[1:] == ["build"]:
        build()
    else:
        raise SystemExit(__doc__)
