/**
 * The kernel speaks the Jupyter protocol: tests/kernel_conformance.py runs the Jupyter project's
 * own kernel test suite (jupyter_kernel_test, Debian's python3-jupyter-kernel-test) against
 * kernels/mamba-ts, plus the protocol behaviour the course relies on (error messages,
 * stop_on_error, silent requests, interrupts, lib's plots and exercise checks).
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = path.resolve(__dirname, "..", "..");
const PYTHON = process.env.MAMBA_TS_PYTHON ?? "/usr/bin/python3";

interface Summary {
  ran: string[];
  failed: string[];
  skipped: string[];
  subtests_skipped: string[];
  details: string[];
}

/** jupyter_kernel_test's tests that cannot apply to tslab, and why. */
const NOT_APPLICABLE: Record<string, string> = {
  test_pager: "tslab has no pager payloads (IPython's `?`)",
  test_clear_output: "tslab has no API that sends clear_output",
};

/** Every test jupyter_kernel_test 0.4.5 defines. */
const JUPYTER_KERNEL_TESTS = [
  "test_kernel_info",
  "test_execute_stdout",
  "test_execute_stderr",
  "test_completion",
  "test_is_complete",
  "test_pager",
  "test_error",
  "test_execute_result",
  "test_display_data",
  "test_history",
  "test_inspect",
  "test_clear_output",
];

const tmp = mkdtempSync(path.join(os.tmpdir(), "mamba-ts-conformance-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function runConformance(): Promise<{ summary: Summary | null; output: string; code: number }> {
  const summaryFile = path.join(tmp, "summary.json");
  return new Promise((resolve) => {
    execFile(
      PYTHON,
      [path.join(ROOT, "tests", "integration", "kernel_conformance.py"), "--json", summaryFile],
      { cwd: ROOT, timeout: 170_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        let summary: Summary | null = null;
        try {
          summary = JSON.parse(readFileSync(summaryFile, "utf8")) as Summary;
        } catch {
          summary = null;
        }
        const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
        resolve({ summary, output: `${stdout}\n${stderr}`, code });
      },
    );
  });
}

describe("kernel conformance (jupyter_kernel_test)", () => {
  it("passes every applicable jupyter_kernel_test test and the course's protocol checks", async () => {
    const { summary, output, code } = await runConformance();
    if (summary === null) {
      throw new Error(
        `tests/kernel_conformance.py did not finish (exit ${code}); it needs Debian's ` +
          `python3-jupyter-kernel-test and a built lib (npm run build). Output:\n${output}`,
      );
    }
    expect(summary.details.join("\n\n")).toBe("");
    expect(summary.failed).toEqual([]);
    // Only the tests that cannot apply are skipped; every other suite test really ran.
    expect(summary.skipped).toEqual(Object.keys(NOT_APPLICABLE).sort());
    expect(summary.subtests_skipped).toEqual([]);
    for (const name of JUPYTER_KERNEL_TESTS) expect(summary.ran).toContain(name);
    expect(code).toBe(0);
  });
});
