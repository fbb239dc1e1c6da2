/**
 * The package contract of @mamba-ts/lib: what a learner imports is there (every name the lessons
 * import), what starts servers, spawns processes or writes datasets is not, the only entry point
 * is the root, and lib/package.json declares every package lib's code loads at run time, at the
 * version the root lock file installs.
 */
import { readFileSync, readdirSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import * as lib from "../../lib/src/index";

const repo = path.resolve(__dirname, "..", "..");
const readJson = (file: string) => JSON.parse(readFileSync(path.join(repo, file), "utf8"));

/** Every `.ts` file under `dir`, recursively. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sources(path.join(dir, e.name))
      : e.name.endsWith(".ts")
        ? [path.join(dir, e.name)]
        : [],
  );
}

/** The names a notebook's cells import from "@mamba-ts/lib". */
function notebookImports(file: string): string[] {
  const nb = JSON.parse(readFileSync(file, "utf8")) as { cells: { source: string[] | string }[] };
  const names: string[] = [];
  for (const cell of nb.cells) {
    const text = Array.isArray(cell.source) ? cell.source.join("") : cell.source;
    for (const m of text.matchAll(/import\s*(?:type\s*)?\{([^}]*)\}\s*from\s*"@mamba-ts\/lib"/g)) {
      for (const part of m[1].split(",")) {
        const name = part
          .replace(/^\s*type\s+/, "")
          .split(" as ")[0]
          .trim();
        if (name !== "") names.push(name);
      }
    }
  }
  return names;
}

describe("@mamba-ts/lib's root index", () => {
  it("exports every value the lessons import", () => {
    const dir = path.join(repo, "notebooks", "solutions");
    const lessons = readdirSync(dir).filter((f) => /^\d\d-.*\.ipynb$/.test(f));
    expect(lessons.length).toBeGreaterThan(0);
    // Types vanish at run time: check the names that are values (a lowercase or UPPER_CASE
    // constant, a class such as Rng) against the module, and the types by compiling (typecheck).
    const typeNames = new Set(["Tensor", "ContinuousSSM"]);
    const missing = lessons.flatMap((f) =>
      notebookImports(path.join(dir, f))
        .filter((n) => !typeNames.has(n) && !(n in lib))
        .map((n) => `${f}: ${n}`),
    );
    expect(missing).toEqual([]);
  });

  it("exports nothing that starts servers, spawns processes, writes datasets or makes releases", () => {
    const forbidden = [
      "runNotebooks",
      "startJupyterServer",
      "attachJupyterServer",
      "killAllJupyterServersNow",
      "findJupyter",
      "courseRoot",
      "findNotebooks",
      "writeDataset",
      "recordDataset",
      "releaseAll",
      "releaseNotebook",
      // gpu.js kernel-source generators other than the one lesson 08 prints
      "naiveOutputSource",
      "chunkInputSource",
      "chunkDecaySource",
      "expandDecaySource",
      "packSource",
      "loadGpuJs",
      "createGpu",
    ];
    expect(forbidden.filter((n) => n in lib)).toEqual([]);
    expect(Object.keys(lib).filter((n) => /Jupyter|Server|Notebook|Dataset$/.test(n))).toEqual([]);
  });
});

describe("lib/package.json", () => {
  const pkg = readJson("lib/package.json") as {
    exports: Record<string, unknown>;
    dependencies?: Record<string, string>;
    optionalDependencies?: Record<string, string>;
  };
  const lock = readJson("package-lock.json") as {
    packages: Record<string, { version?: string }>;
  };

  it("offers only the documented root entry point (no './*')", () => {
    expect(Object.keys(pkg.exports)).toEqual(["."]);
  });

  it("declares every package lib's code loads, at the version the lock file installs", () => {
    const loaded = new Set<string>();
    for (const file of sources(path.join(repo, "lib", "src"))) {
      const text = readFileSync(file, "utf8");
      for (const m of text.matchAll(
        /(?:require\(|require\.resolve\(|from |import\()\s*"([^".][^"]*)"/g,
      )) {
        if (m[1].startsWith("node:")) continue;
        const parts = m[1].split("/");
        loaded.add(m[1].startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]);
      }
    }
    const declared = { ...pkg.dependencies, ...pkg.optionalDependencies };
    expect([...loaded].sort()).toEqual(Object.keys(declared).sort());
    for (const [name, version] of Object.entries(declared)) {
      expect(lock.packages[`node_modules/${name}`]?.version, name).toBe(version);
    }
    expect(Object.keys(pkg.optionalDependencies ?? {})).toEqual(["gl"]);
  });
});
