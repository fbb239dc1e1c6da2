#!/usr/bin/env zx
// Stages what the WebGPU scan benchmark needs on a GPU machine that has no Node.js and no
// network (the lent NVIDIA H200: Ubuntu 24.04, NVIDIA Vulkan driver, PyTorch with CUDA) into one
// folder, by default .gpurun/ at the repository root:
//
//   node.xz                 this machine's Node binary, xz-compressed (~24 MB of ~95 MB)
//   debs/*.deb              the Vulkan loader and GL vendor-neutral libraries (Debian packages,
//                           `apt-get download`): with the driver alone Vulkan finds no loader
//   node_modules/           gpu.js and its runtime dependencies: acorn, gpu-mock.js, webgpu
//                           (Dawn) with only its linux-x64 binary
//   lib/dist, lib/gpu-run   the built library (npm run build first), device.sh, torch_scan.py
//
// Then, on the GPU machine, from the folder that holds .gpurun/:  bash .gpurun/lib/gpu-run/device.sh
// (results land in $OUT, or /tmp/scan-webgpu-out). Options: --into DIR (another staging folder).
import { $, argv, fs, path } from "zx";
import { fileURLToPath } from "node:url";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const into = path.resolve(argv.into ?? path.join(repo, ".gpurun"));
const DEBS = ["libvulkan1", "libegl1", "libglvnd0", "libopengl0", "libgl1", "libglx0", "libgles2"];
const MODULES = ["gpu.js", "acorn", "gpu-mock.js"];

const dist = path.join(repo, "lib", "dist", "bench", "scan-webgpu.js");
if (!fs.existsSync(dist)) {
  console.error(`stage: ${dist} is missing; run \`npm run build\` first`);
  process.exit(1);
}
await fs.mkdirp(into);

// the built library and the device-side scripts
await fs.remove(path.join(into, "lib"));
await fs.copy(path.join(repo, "lib", "dist"), path.join(into, "lib", "dist"));
await fs.copy(path.join(repo, "lib", "package.json"), path.join(into, "lib", "package.json"));
for (const f of ["device.sh", "torch_scan.py"]) {
  await fs.copy(path.join(repo, "lib", "gpu-run", f), path.join(into, "lib", "gpu-run", f));
}

// gpu.js and its runtime dependencies (Dawn: only the Linux x64 binary)
const nm = path.join(into, "node_modules");
await fs.remove(nm);
for (const m of MODULES) {
  await fs.copy(path.join(repo, "node_modules", m), path.join(nm, m), {
    filter: (src) => !src.includes(`${path.sep}dist${path.sep}gpu-browser`),
  });
}
const webgpu = path.join(repo, "node_modules", "webgpu");
for (const f of ["package.json", "index.js", "dist/linux-x64.dawn.node"]) {
  await fs.copy(path.join(webgpu, f), path.join(nm, "webgpu", f));
}

// Node, compressed (kept when it is already there for this binary)
const nodeXz = path.join(into, "node.xz");
const stamp = `${process.execPath} ${process.version} ${fs.statSync(process.execPath).size}`;
const stampFile = path.join(into, "node.stamp");
if (!fs.existsSync(nodeXz) || fs.readFileSync(stampFile, "utf8").trim() !== stamp) {
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

const size = (await $`du -sm ${into}`).stdout.split(/\s+/)[0];
console.log(`staged into ${into} (${size} MB)`);
console.log(`on the GPU machine, from the folder that holds ${path.basename(into)}/:`);
console.log(`  bash ${path.basename(into)}/lib/gpu-run/device.sh`);
