#!/usr/bin/env bash
# Runs the GPU benchmarks on a GPU machine from a folder staged by lib/gpu-run/stage.mjs, with no
# Node.js and no network there: `bash <staging>/lib/gpu-run/device.sh` (from anywhere). It unpacks
# the Vulkan loader, Node and Dawn, then runs the benchmarks GPU_BENCHES names, in that order
# (default "scan-webgpu ssd-webgpu"):
#   scan-webgpu  Mamba-1's selective scan (lib/build/bench/scan-webgpu.js); Mamba's official CUDA
#                forward (fp32) builds in the background for it (lib/gpu-run/mamba_cuda.py).
#                Results in $OUT: results.json, table.txt, mamba-build.txt. Its budget:
#                SCAN_WEBGPU_BUDGET_S (default 480).
#   transfers-webgpu  the paths that move one (b, d, l) tensor between host and GPU through Dawn
#                (lib/build/bench/transfers-webgpu.js); results in $OUT/transfers-webgpu.
#   ssd-webgpu   Mamba-2's chunked SSD (lib/build/bench/ssd-webgpu.js). Results in
#                $OUT/ssd-webgpu: results.json, table.txt. Its budget: SSD_WEBGPU_BUDGET_S
#                (default 300).
# $OUT defaults to /tmp/scan-gpu-out; log.txt there has everything printed. Each benchmark is
# stopped at its budget (and skips what would not fit it); other settings (SCAN_WEBGPU_SIZES,
# SSD_WEBGPU_SIZES, TORCH_PYTHON, ...) as in lib/scripts/bench/scan-webgpu.ts and ssd-webgpu.ts.
set -uo pipefail
stage="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="${OUT:-/tmp/scan-gpu-out}"
mkdir -p "$out"
log="$out/log.txt"
{
  echo "== environment"
  # Vulkan loader and GL dispatch libraries (the image has the NVIDIA driver but no loader)
  for f in "$stage"/debs/*.deb; do dpkg -x "$f" /; done
  ldconfig
  icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  [ -f "$icd" ] || icd="$(ls /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json 2>/dev/null | head -1)"
  [ -n "$icd" ] && export VK_DRIVER_FILES="$icd"
  egl=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
  [ -f "$egl" ] && export __EGL_VENDOR_LIBRARY_FILENAMES="$egl"
  echo "VK_DRIVER_FILES=${VK_DRIVER_FILES:-unset}"
  ldconfig -p | grep -E "libvulkan.so.1 " || echo "no libvulkan after unpacking"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader || true
  grep -E "^(NAME|VERSION)=" /etc/os-release || true
  ldd --version | head -1
  node=/tmp/gpurun-node
  xz -dc "$stage/node.xz" >"$node" && chmod +x "$node"
  dawn="$stage/node_modules/webgpu/dist/linux-x64.dawn.node"
  [ -f "$dawn" ] || xz -dk "$dawn.xz"
  echo "node $("$node" --version)"
  benches="${GPU_BENCHES:-scan-webgpu ssd-webgpu}"
  if [[ " $benches " == *" scan-webgpu "* ]]; then
    echo "== Mamba's CUDA selective scan (fp32 forward), building in the background"
    (python3 "$stage/lib/gpu-run/mamba_cuda.py" build >"$out/mamba-build.txt" 2>&1; echo "build exit code $?" >>"$out/mamba-build.txt") &
  fi
  for bench in $benches; do
    echo "== benchmark $bench"
    # each benchmark reads its own budget too: it skips parts that would not fit, rather than
    # being cut off
    case "$bench" in
      scan-webgpu)
        export SCAN_WEBGPU_BUDGET_S="${SCAN_WEBGPU_BUDGET_S:-480}"
        SCAN_WEBGPU_OUT="$out" timeout -k 10 "$SCAN_WEBGPU_BUDGET_S" \
          "$node" "$stage/lib/build/bench/scan-webgpu.js"
        ;;
      transfers-webgpu)
        TRANSFERS_OUT="$out/transfers-webgpu" timeout -k 10 300 \
          "$node" "$stage/lib/build/bench/transfers-webgpu.js"
        ;;
      ssd-webgpu)
        export SSD_WEBGPU_BUDGET_S="${SSD_WEBGPU_BUDGET_S:-300}"
        SSD_WEBGPU_OUT="$out/ssd-webgpu" timeout -k 10 "$SSD_WEBGPU_BUDGET_S" \
          "$node" "$stage/lib/build/bench/ssd-webgpu.js"
        ;;
      *)
        echo "unknown benchmark '$bench' in GPU_BENCHES (scan-webgpu, transfers-webgpu, ssd-webgpu)"
        false
        ;;
    esac
    echo "benchmark $bench exit code $?"
  done
  wait
  [ -f "$out/mamba-build.txt" ] && tail -3 "$out/mamba-build.txt"
} 2>&1 | tee "$log"
