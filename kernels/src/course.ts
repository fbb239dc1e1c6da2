/** The course's own readiness: lib built, tslab installed, gpu.js's optional `gl` module. */
import { existsSync } from "node:fs";
import * as path from "node:path";
import { SetupError, say } from "./cli";
import { ROOT, TSLAB } from "./jupyter";
import { findOnPath, runVisible } from "./process";

/** Whether gpu.js's optional `gl` module (the headlessgl backend) loads here. */
export function glModuleLoads(root: string = ROOT): boolean {
  try {
    require(require.resolve("gl", { paths: [root] }));
    return true;
  } catch {
    return false;
  }
}

/** What to tell a learner whose `gl` module does not load (lesson 08's headlessgl backend). */
export const GL_MISSING_MESSAGE =
  "gpu.js's headlessgl backend is unavailable: the optional `gl` module did not build or does " +
  "not load, so lesson 08 times only the cpu and webasm backends. To get it on Debian/Ubuntu: " +
  "`sudo apt-get install libxi-dev libglu1-mesa-dev libglew-dev pkg-config`, then `npm ci` " +
  "again; headlessgl also needs an X display (run under `xvfb-run -a` where there is none).";

/**
 * Builds lib and the tooling when they are missing (a fresh clone where `npm ci` did not run its
 * postinstall, or after a clean). Also checks that the npm dependencies are installed.
 */
export async function ensureCourseReady(): Promise<void> {
  if (!existsSync(TSLAB)) {
    throw new SetupError(
      `the kernel's tslab is missing (${path.relative(ROOT, TSLAB)}): run \`npm ci\` in ${ROOT} first`,
    );
  }
  if (existsSync(path.join(ROOT, "lib", "dist", "index.js"))) return;
  say("lib is not built yet: running `npm run build`");
  const npm = findOnPath("npm") ?? "npm";
  const code = await runVisible(npm, ["run", "build"], { cwd: ROOT });
  if (code !== 0 || !existsSync(path.join(ROOT, "lib", "dist", "index.js"))) {
    throw new SetupError("`npm run build` failed: fix the errors above, then run this again");
  }
}
