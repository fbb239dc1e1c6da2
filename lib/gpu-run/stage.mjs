#!/usr/bin/env zx
// Stages what the GPU benchmarks (the selective scan and Mamba-2's SSD) need on a GPU machine that has no Node.js and no network
// (the lent NVIDIA H100/H200: Ubuntu 24.04, NVIDIA driver with Vulkan, nvcc, PyTorch with CUDA)
// into one folder:
//
//   node.xz                 this machine's Node binary, xz-compressed (~24 MB of ~95 MB)
//   debs/*.deb              the Vulkan loader and GL vendor-neutral libraries (Debian packages,
//                           `apt-get download`): with the driver alone Vulkan finds no loader
//   node_modules/           gpu.js and its runtime dependencies: acorn, gpu-mock.js, webgpu
//                           (Dawn) with only its linux-x64 binary (xz-compressed)
//   lib/dist, lib/build     the built library and benchmarks (built here first when missing)
//   lib/gpu-run/            device.sh, torch_scan.py, torch_ssd.py, mamba_cuda.py (the scripts
//                           that run there)
//   mamba/csrc/selective_scan/   with --mamba: the sources of Mamba's official CUDA selective
//                           scan that the fp32 forward needs (copied from a checkout or a git
//                           directory of state-spaces/mamba; never committed here)
//
// Usage, from anywhere in the repository:
//   npx zx lib/gpu-run/stage.mjs [--out DIR] [--mamba PATH]
// --out defaults to .gpurun/ at the root of the repository this script is in. Then, on the GPU
// machine, from the folder that holds the staging folder: `bash <staging>/lib/gpu-run/device.sh`
// (results land in $OUT, or /tmp/scan-gpu-out).
import { $, argv, fs, path } from "zx";
import { fileURLToPath } from "node:url";

$.verbose = false;
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const into = path.resolve(argv.out ?? path.join(repo, ".gpurun"));
const DEBS = ["libvulkan1", "libegl1", "libglvnd0", "libopengl0", "libgl1", "libglx0", "libgles2"];
const MODULES = ["gpu.js", "acorn", "gpu-mock.js"];
// what the fp32 forward of csrc/selective_scan includes (selective_scan.cpp is patched there to
// drop the backward and the half/bf16/complex dispatch; see mamba_cuda.py)
const MAMBA_FILES = [
  "LICENSE",
  "csrc/selective_scan/selective_scan.cpp",
  "csrc/selective_scan/selective_scan.h",
  "csrc/selective_scan/selective_scan_common.h",
  "csrc/selective_scan/selective_scan_fwd_kernel.cuh",
  "csrc/selective_scan/static_switch.h",
  "csrc/selective_scan/uninitialized_copy.cuh",
];

const benches = ["scan-webgpu", "ssd-webgpu"].map((b) =>
  path.join(repo, "lib", "build", "bench", `${b}.js`),
);
const dist = path.join(repo, "lib", "dist", "index.js");
if (!benches.every((b) => fs.existsSync(b)) || !fs.existsSync(dist)) {
  console.log("stage: lib is not built yet: npm run build --workspace lib");
  await $({ cwd: repo, verbose: true })`npm run build --workspace lib`;
}
for (const bench of benches) {
  if (!fs.existsSync(bench)) {
    console.error(`stage: ${bench} is still missing after the build`);
    process.exit(1);
  }
}
await fs.mkdirp(into);

// the built library, the built benchmarks and the device-side scripts
for (const dir of ["lib", "mamba"]) await fs.remove(path.join(into, dir));
await fs.copy(path.join(repo, "lib", "dist"), path.join(into, "lib", "dist"), {
  filter: (src) => !src.endsWith(".map"),
});
await fs.copy(path.join(repo, "lib", "build"), path.join(into, "lib", "build"), {
  filter: (src) => !src.endsWith(".map"),
});
await fs.copy(path.join(repo, "lib", "package.json"), path.join(into, "lib", "package.json"));
for (const f of ["device.sh", "torch_scan.py", "torch_ssd.py", "mamba_cuda.py"]) {
  await fs.copy(path.join(repo, "lib", "gpu-run", f), path.join(into, "lib", "gpu-run", f));
}

// gpu.js and its runtime dependencies (Dawn: only the Linux x64 binary, compressed)
const nm = path.join(into, "node_modules");
await fs.remove(nm);
for (const m of MODULES) {
  await fs.copy(path.join(repo, "node_modules", m), path.join(nm, m), {
    filter: (src) => !src.includes(`${path.sep}dist${path.sep}gpu-browser`),
  });
}
const webgpu = path.join(repo, "node_modules", "webgpu");
for (const f of ["package.json", "index.js"]) {
  await fs.copy(path.join(webgpu, f), path.join(nm, "webgpu", f));
}
await fs.mkdirp(path.join(nm, "webgpu", "dist"));
await $`xz -T0 -6 -c ${path.join(webgpu, "dist", "linux-x64.dawn.node")} > ${path.join(nm, "webgpu", "dist", "linux-x64.dawn.node.xz")}`;

// Node, compressed (kept when it is already there for this binary)
const nodeXz = path.join(into, "node.xz");
const stamp = `${process.execPath} ${process.version} ${fs.statSync(process.execPath).size}`;
const stampFile = path.join(into, "node.stamp");
if (
  !fs.existsSync(nodeXz) ||
  !fs.existsSync(stampFile) ||
  fs.readFileSync(stampFile, "utf8").trim() !== stamp
) {
  await $`xz -T0 -6 -c ${process.execPath} > ${nodeXz}`;
  fs.writeFileSync(stampFile, stamp + "\n");
}

// the Debian packages, amd64 whatever this machine is
const debs = path.join(into, "debs");
if (
  !fs.existsSync(debs) ||
  fs.readdirSync(debs).filter((f) => f.endsWith(".deb")).length < DEBS.length
) {
  await fs.mkdirp(debs);
  // on another architecture, fetch the amd64 package lists first (the GPU machine is x86-64)
  let o = [];
  if ((await $`uname -m`).stdout.trim() !== "x86_64") {
    const lists = "/tmp/gpurun-apt-amd64";
    await fs.mkdirp(path.join(lists, "partial"));
    o = ["-oAPT::Architecture=amd64", "-oAPT::Architectures=amd64", `-oDir::State::Lists=${lists}`];
    await $`apt-get ${o} update`;
  }
  await $({ cwd: debs })`apt-get ${o} download ${DEBS}`;
}

// Mamba's CUDA selective scan sources (fp32 forward only)
if (argv.mamba) {
  const src = path.resolve(argv.mamba);
  const checkout = fs.existsSync(path.join(src, "csrc", "selective_scan"));
  for (const f of MAMBA_FILES) {
    const target = path.join(into, "mamba", f);
    await fs.mkdirp(path.dirname(target));
    if (checkout) await fs.copy(path.join(src, f), target);
    else fs.writeFileSync(target, (await $`git --git-dir=${src} show HEAD:${f}`).stdout);
  }
  const commit = checkout
    ? (await $`git -C ${src} rev-parse HEAD`.nothrow()).stdout.trim()
    : (await $`git --git-dir=${src} rev-parse HEAD`).stdout.trim();
  fs.writeFileSync(path.join(into, "mamba", "COMMIT"), `state-spaces/mamba ${commit}\n`);
} else {
  console.log("stage: no --mamba PATH: the official CUDA kernel's columns will be skipped there");
}

const size = (await $`du -sm ${into}`).stdout.split(/\s+/)[0];
console.log(`staged into ${into} (${size} MB)`);
console.log(`on the GPU machine, from the folder that holds ${path.basename(into)}/:`);
console.log(`  bash ${path.basename(into)}/lib/gpu-run/device.sh`);
