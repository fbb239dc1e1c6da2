/**
 * The one way `npm run bench` and `npm run train` find and run their scripts: a script is one
 * file `lib/scripts/<kind>/<name>.ts`, built to `lib/build/<kind>/<name>.js`, run in a node
 * process of its own. Adding a file adds the name: nothing to register.
 */
import { existsSync, readdirSync } from "node:fs";
import * as path from "node:path";

/** The built scripts of one kind, by name (`lib/build/<kind>/<name>.js`). */
export function scriptNames(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".js"))
    .map((f) => f.slice(0, -3))
    .sort();
}

/**
 * Runs the scripts `names` of `kind` (each with `args`), stopping at the first that fails;
 * returns the exit code. `names` must not be empty.
 */
export async function runNamedScripts(
  kind: string,
  names: string[],
  args: string[] = [],
): Promise<number> {
  const dir = path.join(__dirname, kind);
  if (!existsSync(dir)) {
    console.error(`${kind}: ${dir} is missing; run \`npm run build\` first`);
    return 1;
  }
  const available = scriptNames(dir);
  const unknown = names.filter((w) => !available.includes(w));
  if (names.length === 0 || unknown.length > 0) {
    const what = names.length === 0 ? "no name given" : `unknown name ${unknown.join(", ")}`;
    console.error(`${kind}: ${what}; available: ${available.join(", ")}`);
    return 2;
  }
  const { $ } = await import("zx");
  for (const name of names) {
    console.log(`\n=== ${kind} ${name} ===`);
    const script = path.join(dir, `${name}.js`);
    const run = await $({ stdio: "inherit", nothrow: true })`node ${script} ${args}`;
    if (run.exitCode !== 0) return run.exitCode ?? 1;
  }
  return 0;
}

/** Runs `main` as a command line program: its result is the exit code, a throw prints and exits 1. */
export function runMain(kind: string, main: () => Promise<number>): void {
  main().then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      console.error(`${kind}: ${(err as Error).message}`);
      process.exitCode = 1;
    },
  );
}
