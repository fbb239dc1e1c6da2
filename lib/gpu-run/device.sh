#!/usr/bin/env bash
# Runs the GPU scan benchmark on a GPU machine from a folder staged by lib/gpu-run/stage.mjs,
# with no Node.js and no network there: `bash <staging>/lib/gpu-run/device.sh` (from anywhere).
# It unpacks the Vulkan loader, Node and Dawn, builds Mamba's official CUDA forward (fp32) in the
# background (lib/gpu-run/mamba_cuda.py), and runs lib/build/bench/scan-webgpu.js. Results: $OUT
# (or /tmp/scan-gpu-out) gets results.json, table.txt, log.txt and mamba-build.txt.
# Env: SCAN_WEBGPU_BUDGET_S (default 480) bounds the benchmark; SCAN_WEBGPU_SIZES, TORCH_PYTHON
# as in lib/scripts/bench/scan-webgpu.ts.
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
  echo "== Mamba's CUDA selective scan (fp32 forward), building in the background"
  (python3 "$stage/lib/gpu-run/mamba_cuda.py" build >"$out/mamba-build.txt" 2>&1; echo "build exit code $?" >>"$out/mamba-build.txt") &
  echo "== benchmark"
  # the benchmark reads the same budget: it skips parts that would not fit, rather than being cut off
  export SCAN_WEBGPU_BUDGET_S="${SCAN_WEBGPU_BUDGET_S:-480}"
  SCAN_WEBGPU_OUT="$out" timeout -k 10 "$SCAN_WEBGPU_BUDGET_S" \
    "$node" "$stage/lib/build/bench/scan-webgpu.js"
  echo "benchmark exit code $?"
  wait
  tail -3 "$out/mamba-build.txt"
} 2>&1 | tee "$log"
