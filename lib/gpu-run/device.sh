#!/usr/bin/env bash
# Runs the WebGPU scan benchmark on a GPU machine from a folder staged by lib/gpu-run/stage.mjs
# (default .gpurun/), with no Node.js and no network there. Run from the folder that holds the
# staging folder: `bash .gpurun/lib/gpu-run/device.sh`. Results: $OUT (or /tmp/scan-webgpu-out)
# gets results.json, table.txt and log.txt. Env: SCAN_WEBGPU_BUDGET_S (default 500) bounds the
# benchmark's run; SCAN_WEBGPU_SIZES, TORCH_PYTHON as in lib/scripts/bench/scan-webgpu.ts.
set -uo pipefail
stage="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="${OUT:-/tmp/scan-webgpu-out}"
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
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
  grep -E "^(NAME|VERSION)=" /etc/os-release || true
  ldd --version | head -1
  node=/tmp/gpurun-node
  xz -dc "$stage/node.xz" >"$node" && chmod +x "$node"
  echo "node $("$node" --version)"
  echo "== benchmark"
  SCAN_WEBGPU_OUT="$out" timeout -k 10 "${SCAN_WEBGPU_BUDGET_S:-500}" \
    "$node" "$stage/lib/dist/bench/scan-webgpu.js"
  echo "benchmark exit code $?"
} 2>&1 | tee "$log"
