/**
 * The Python every benchmark runs PyTorch (and transformers) with, found once: $TORCH_PYTHON
 * when set (for example a venv's bin/python with torch 2.x from the wheel index), else the first
 * of `python3` on the PATH and `/usr/bin/python3` (Debian's python3-torch) that imports torch.
 *
 * Not a benchmark itself: it lives beside `bench/`, whose every file the bench runner runs.
 * A benchmark prints which Python ran, its torch version and where that torch was imported from,
 * or why its PyTorch columns are skipped.
 */
import { spawnSync } from "node:child_process";

export interface TorchPython {
  /** The interpreter to run. */
  python: string;
  /** `torch.__version__`. */
  torch: string;
  /** The folder torch was imported from. */
  where: string;
}

let found: TorchPython | { why: string } | undefined;

/** The Python with torch (see the module comment), or why there is none. */
export function torchPython(): TorchPython | { why: string } {
  if (found) return found;
  const given = process.env.TORCH_PYTHON;
  const candidates = given ? [given] : ["python3", "/usr/bin/python3"];
  const tried: string[] = [];
  for (const python of candidates) {
    const r = spawnSync(
      python,
      ["-c", "import os, torch; print(torch.__version__, os.path.dirname(torch.__file__))"],
      { encoding: "utf8", timeout: 120_000 },
    );
    if (r.status === 0) {
      const [torch, where] = r.stdout.trim().split(" ");
      return (found = { python, torch, where });
    }
    tried.push(`${python}: ${r.error ? r.error.message : "no torch module"}`);
  }
  return (found = {
    why: `no Python with torch (${tried.join("; ")}); set TORCH_PYTHON to one (a venv with torch 2.x) or apt-get install python3-torch`,
  });
}

/** One line for a benchmark's header: which PyTorch runs, or why none does. */
export function torchLine(): string {
  const t = torchPython();
  return "why" in t
    ? `PyTorch: skipped (${t.why})`
    : `PyTorch ${t.torch} (${t.python}, imported from ${t.where})`;
}
