/**
 * The course kernel as Jupyter sees it: with JUPYTER_PATH set to the repository, Jupyter finds the
 * `mamba-ts` kernelspec in kernels/, and the runner (starting its own server, as `npm run lessons`
 * does) executes a cell on it.
 */
import { execFileSync } from "node:child_process";
import { realpathSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { courseRoot, findJupyter, runNotebooks } from "../../kernels/src/index";

const ROOT = courseRoot();

describe("the mamba-ts kernel", () => {
  it("is listed by `jupyter kernelspec list` with JUPYTER_PATH=<repo>", () => {
    const json = execFileSync(findJupyter(ROOT), ["kernelspec", "list", "--json"], {
      env: { ...process.env, JUPYTER_PATH: ROOT },
      encoding: "utf8",
    });
    const specs = JSON.parse(json).kernelspecs as Record<
      string,
      { resource_dir: string; spec: { language: string } }
    >;
    expect(Object.keys(specs)).toContain("mamba-ts");
    expect(realpathSync(specs["mamba-ts"].resource_dir)).toBe(
      realpathSync(path.join(ROOT, "kernels", "mamba-ts")),
    );
    expect(specs["mamba-ts"].spec.language).toBe("typescript");
  });

  it("runs a cell through a Jupyter server the runner starts", async () => {
    const report = await runNotebooks(
      [path.join(ROOT, "tests", "integration", "fixtures", "runner", "hello.ipynb")],
      {
        outDir: null,
        timeoutSeconds: 120,
      },
    );
    expect(report.server.started).toBe(true);
    const [nb] = report.notebooks;
    expect(nb.kernelName).toBe("mamba-ts");
    expect(nb.failure).toBeNull();
    expect(nb.cells).toHaveLength(1);
    expect(nb.cells[0]).toMatchObject({
      status: "ok",
      executionCount: 1,
      outputs: [{ output_type: "stream", name: "stdout", text: [`${1 + 1}\n`] }],
    });
  });
});
