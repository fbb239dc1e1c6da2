/**
 * The course in a real browser: headless Chromium (Debian's `chromium`, driven by playwright-core;
 * never a downloaded browser) opens the course the way README's start command launches it
 * (`npm start -- --no-browser --jupyter=pip` for JupyterLab 4, `--jupyter=notebook` for the
 * classic Notebook), runs every cell of the welcome lesson and of a plot-heavy lesson through the
 * front end's own "Run All" menu, and checks what a learner would see:
 * - no error output and no stderr;
 * - every figure drawn as an interactive plotly figure (SVG traces, the mode bar): in JupyterLab by
 *   plotly's renderer (application/vnd.plotly.v1+json), in the classic Notebook by lib's HTML
 *   fallback, which loads the project's plotly.js from the server;
 * - each exercise check's "⏳ <id> ... not implemented yet" message visible.
 * Screenshots of every figure and check go to `.screenshots/` (git-ignored) for a person to look at.
 *
 * The learner notebooks are run in place but never saved: JupyterLab runs with autosave off (its
 * settings and workspaces in a temporary folder), the classic Notebook's autosave is switched off
 * as soon as the page has loaded, and pages are closed without saving. The test checks afterwards
 * that the notebooks' bytes and `git status` are unchanged, and removes the checkpoint files the
 * front ends created.
 */
import { execFileSync } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { chromium, type BrowserContext, type Locator, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Course, killGroup, spawnCourse } from "../helpers/course";

const ROOT = path.resolve(__dirname, "..", "..");
const CHROMIUM = process.env.MAMBA_TS_CHROMIUM ?? "/usr/bin/chromium";
const SHOTS = path.join(ROOT, ".screenshots");
/** The lessons run in each front end: the welcome lesson and a plot-heavy one (a heatmap too). */
const LESSONS = ["notebooks/00-welcome.ipynb", "notebooks/04-memory-hippo-s4d.ipynb"];
/** Chromium as root in a container: no sandbox, no GPU, no background connections. */
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
/**
 * JupyterLab 4's debugger extension asks every kernel without a debugger for its modules after
 * each execute_reply and rejects with this message: a JupyterLab quirk, not a course problem.
 */
const KNOWN_PAGE_ERRORS = [/^No active debugger session$/];
const RUN_TIMEOUT_MS = 240_000;
/** What the front ends show for our kernel. */
const KERNEL_DISPLAY_NAME = (
  JSON.parse(readFileSync(path.join(ROOT, "kernels", "mamba-ts", "kernel.json"), "utf8")) as {
    display_name: string;
  }
).display_name;

interface Lesson {
  file: string;
  name: string;
  /** Non-empty code cells (each gets an execution count). */
  codeCells: number;
  /** Code cells that call show(...): each draws at least one figure. */
  plotCells: number;
  exercises: string[];
}

function readLesson(file: string): Lesson {
  const nb = JSON.parse(readFileSync(path.join(ROOT, file), "utf8")) as {
    cells: { cell_type: string; source: string | string[]; metadata?: Record<string, unknown> }[];
  };
  const code = nb.cells
    .filter((c) => c.cell_type === "code")
    .map((c) => ({
      source: Array.isArray(c.source) ? c.source.join("") : c.source,
      exercise: (c.metadata?.mamba_ts as { exercise?: string } | undefined)?.exercise,
    }))
    .filter((c) => c.source.trim() !== "");
  return {
    file,
    name: path.basename(file, ".ipynb"),
    codeCells: code.length,
    plotCells: code.filter((c) => /\bshow\(/.test(c.source)).length,
    exercises: code.flatMap((c) => (c.exercise ? [c.exercise] : [])),
  };
}

// ---- the course server, started like a learner starts it ------------------------------------

function startCourse(route: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Course> {
  return spawnCourse("npm", ["start", "--", "--no-browser", `--jupyter=${route}`], {
    env,
    timeoutMs,
  });
}

/** Ctrl-C in the learner's terminal, then a hard stop if it hangs. */
async function stopCourse(c: Course): Promise<void> {
  killGroup(c.proc, "SIGINT");
  const done = await Promise.race([
    c.exited.then(() => true),
    new Promise<boolean>((r) => setTimeout(() => r(false), 30_000)),
  ]);
  if (!done) killGroup(c.proc, "SIGKILL");
}

/** Shuts down the kernels of the sessions on `file` (the notebook stays unsaved). */
async function shutDownKernels(c: Course, file: string): Promise<void> {
  const headers = { Authorization: `token ${c.token}` };
  const res = await fetch(`${c.base}api/sessions`, { headers });
  if (!res.ok) return;
  const sessions = (await res.json()) as {
    id: string;
    path?: string;
    notebook?: { path: string };
  }[];
  for (const s of sessions) {
    if ((s.path ?? s.notebook?.path) === file) {
      await fetch(`${c.base}api/sessions/${s.id}`, { method: "DELETE", headers });
    }
  }
}

// ---- the browser -----------------------------------------------------------------------------

async function launchBrowser(userDataDir: string): Promise<BrowserContext> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `no Chromium at ${CHROMIUM}: install Debian's \`chromium\` (or set MAMBA_TS_CHROMIUM)`,
    );
  }
  return chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 900 },
  });
}

/** A fresh page that records uncaught page errors (minus the known JupyterLab quirk). */
async function openPage(ctx: BrowserContext): Promise<{ page: Page; pageErrors: string[] }> {
  const page = await ctx.newPage();
  const pageErrors: string[] = [];
  page.on("pageerror", (err) => {
    if (!KNOWN_PAGE_ERRORS.some((re) => re.test(err.message)))
      pageErrors.push(err.stack ?? err.message);
  });
  return { page, pageErrors };
}

function shotPath(frontEnd: string, lesson: Lesson, what: string): string {
  return path.join(SHOTS, `${frontEnd}-${lesson.name}-${what}.png`);
}

/** Checks every figure (interactive plotly SVG with traces and a mode bar) and screenshots it. */
async function checkPlots(plots: Locator, lesson: Lesson, frontEnd: string): Promise<number> {
  const n = await plots.count();
  expect(n, `figures drawn in ${lesson.name}`).toBeGreaterThanOrEqual(lesson.plotCells);
  for (let i = 0; i < n; i++) {
    const plot = plots.nth(i);
    await plot.scrollIntoViewIfNeeded();
    const parts = await plot.evaluate((el) => ({
      svg: el.querySelectorAll(".main-svg").length,
      traces: el.querySelectorAll(".trace, .hm").length,
      modebar: el.querySelectorAll(".modebar").length,
    }));
    expect(parts.svg, `figure ${i + 1}: plotly SVG`).toBeGreaterThan(0);
    expect(parts.traces, `figure ${i + 1}: traces`).toBeGreaterThan(0);
    expect(parts.modebar, `figure ${i + 1}: interactive mode bar`).toBeGreaterThan(0);
    await plot.screenshot({
      path: shotPath(frontEnd, lesson, `plot-${String(i + 1).padStart(2, "0")}`),
    });
  }
  return n;
}

/** Each exercise check's "not implemented yet" line is on screen (scrolled to), screenshotted. */
async function checkExerciseMessages(outputs: Locator, lesson: Lesson, frontEnd: string) {
  for (const id of lesson.exercises) {
    const message = outputs.filter({ hasText: `⏳ ${id}:` }).first();
    await message.scrollIntoViewIfNeeded();
    expect(await message.isVisible(), `the check of "${id}" shows its message`).toBe(true);
    // JupyterLab renders cells lazily: right after scrolling, the text can still be unpainted
    // (innerText ""), so wait until it is painted rather than read it once.
    await expect
      .poll(
        async () => {
          await message.scrollIntoViewIfNeeded();
          return message.innerText();
        },
        { timeout: 20_000 },
      )
      .toContain("not implemented yet");
    await message.screenshot({ path: shotPath(frontEnd, lesson, `check-${id}`) });
  }
}

// ---- the learner's files must not change -----------------------------------------------------

const sha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");
const gitStatus = () =>
  execFileSync("git", ["status", "--porcelain", "--", ...LESSONS], {
    cwd: ROOT,
    encoding: "utf8",
  });
const checkpointDirs = [
  ...new Set(LESSONS.map((f) => path.join(ROOT, path.dirname(f), ".ipynb_checkpoints"))),
];
const listCheckpoints = () =>
  checkpointDirs.flatMap((d) => (existsSync(d) ? readdirSync(d).map((f) => path.join(d, f)) : []));

const before = {
  hashes: LESSONS.map((f) => sha256(path.join(ROOT, f))),
  git: gitStatus(),
  checkpoints: new Set(listCheckpoints()),
  dirs: checkpointDirs.filter((d) => existsSync(d)),
};
const tmp = mkdtempSync(path.join(os.tmpdir(), "mamba-ts-browser-"));
mkdirSync(SHOTS, { recursive: true });

afterAll(() => {
  // Checkpoints the front ends made when opening the lessons (never our learners' own).
  for (const file of listCheckpoints())
    if (!before.checkpoints.has(file)) rmSync(file, { force: true });
  for (const dir of checkpointDirs) {
    if (!before.dirs.includes(dir) && existsSync(dir) && readdirSync(dir).length === 0)
      rmSync(dir, { recursive: true });
  }
  rmSync(tmp, { recursive: true, force: true });
});

const lessons = LESSONS.map(readLesson);

// ---- JupyterLab 4 ----------------------------------------------------------------------------

describe("JupyterLab 4 (npm start -- --jupyter=pip)", () => {
  let course: Course;
  let ctx: BrowserContext;
  beforeAll(async () => {
    // JupyterLab's user settings and workspaces live in a temporary folder: autosave off, no news
    // or update prompts, and nothing written to the user's ~/.jupyter.
    const settings = path.join(tmp, "lab-settings");
    const put = (plugin: string, file: string, value: unknown) => {
      mkdirSync(path.join(settings, plugin), { recursive: true });
      writeFileSync(path.join(settings, plugin, file), JSON.stringify(value));
    };
    put("@jupyterlab/docmanager-extension", "plugin.jupyterlab-settings", { autosave: false });
    put("@jupyterlab/apputils-extension", "notification.jupyterlab-settings", {
      fetchNews: "false",
      checkForUpdates: false,
    });
    course = await startCourse(
      "pip",
      {
        JUPYTERLAB_SETTINGS_DIR: settings,
        JUPYTERLAB_WORKSPACES_DIR: path.join(tmp, "lab-workspaces"),
      },
      300_000,
    );
    ctx = await launchBrowser(path.join(tmp, "chromium-lab"));
  }, 360_000);
  afterAll(async () => {
    await ctx?.close();
    if (course) await stopCourse(course);
  }, 60_000);

  it("runs with autosave off", async () => {
    expect(course.app).toBe("JupyterLab");
    const res = await fetch(
      `${course.base}lab/api/settings/@jupyterlab/docmanager-extension:plugin`,
      {
        headers: { Authorization: `token ${course.token}` },
      },
    );
    const body = (await res.json()) as { settings?: { autosave?: boolean }; raw?: string };
    expect(body.settings?.autosave ?? JSON.parse(body.raw ?? "{}").autosave).toBe(false);
  });

  for (const lesson of lessons) {
    it(
      `runs every cell of ${lesson.name}`,
      async () => {
        const { page, pageErrors } = await openPage(ctx);
        try {
          // A fresh, named workspace: only this notebook is open.
          const workspace = `t${randomUUID().slice(0, 8)}`;
          await page.goto(
            `${course.base}lab/workspaces/${workspace}/tree/${lesson.file}?token=${course.token}`,
          );
          const panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)");
          await panel.locator(".jp-CodeCell").first().waitFor({ timeout: 90_000 });
          // The kernel is started and connected (running cells earlier opens "Select Kernel").
          await panel
            .locator(".jp-Toolbar-kernelName", { hasText: KERNEL_DISPLAY_NAME })
            .waitFor({ timeout: 90_000 });
          await page
            .locator(".jp-StatusBar-TextItem", { hasText: `${KERNEL_DISPLAY_NAME} | Idle` })
            .waitFor({ timeout: 90_000 });
          expect(await page.locator(".jp-Dialog").count(), "no dialog is open").toBe(0);

          await page.locator("#jp-MainMenu .lm-MenuBar-itemLabel", { hasText: /^Run$/ }).click();
          await page.locator("li[data-command='runmenu:run-all']").click();
          await page.waitForFunction(
            (n) => {
              const prompts = Array.from(
                document.querySelectorAll(
                  ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt",
                ),
              );
              return (
                prompts.filter((p) => /^\[\d+\]:?$/.test((p.textContent ?? "").trim())).length >= n
              );
            },
            lesson.codeCells,
            { timeout: 180_000, polling: 500 },
          );
          await page.screenshot({ path: shotPath("lab", lesson, "window") });

          const errors = panel.locator(
            '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]',
          );
          expect(await errors.allInnerTexts(), "error or stderr outputs").toEqual([]);
          expect(
            await panel.locator(".jp-OutputArea-output", { hasText: "[plot not shown" }).count(),
          ).toBe(0);

          // Figures drawn by plotly's JupyterLab renderer from the application/vnd.plotly.v1+json data.
          const plots = panel.locator(".jp-OutputArea-output.js-plotly-plot");
          await expect
            .poll(() => plots.count(), { timeout: 60_000 })
            .toBeGreaterThanOrEqual(lesson.plotCells);
          const drawn = await checkPlots(plots, lesson, "lab");
          expect(await panel.locator(".jp-RenderedPlotly").count()).toBe(drawn);

          await checkExerciseMessages(panel.locator(".jp-OutputArea-output"), lesson, "lab");
          expect(pageErrors).toEqual([]);
        } catch (err) {
          await page.screenshot({ path: shotPath("lab", lesson, "failure") }).catch(() => {});
          throw err;
        } finally {
          await shutDownKernels(course, lesson.file);
          await page.close();
        }
      },
      RUN_TIMEOUT_MS,
    );
  }
});

// ---- the classic Notebook --------------------------------------------------------------------

describe("classic Notebook (npm start -- --jupyter=notebook)", () => {
  let course: Course;
  let ctx: BrowserContext;
  beforeAll(async () => {
    course = await startCourse("notebook", {}, 120_000);
    ctx = await launchBrowser(path.join(tmp, "chromium-notebook"));
  }, 180_000);
  afterAll(async () => {
    await ctx?.close();
    if (course) await stopCourse(course);
  }, 60_000);

  for (const lesson of lessons) {
    it(
      `runs every cell of ${lesson.name}`,
      async () => {
        expect(course.app).toBe("Jupyter Notebook");
        const { page, pageErrors } = await openPage(ctx);
        try {
          await page.goto(`${course.base}notebooks/${lesson.file}?token=${course.token}`);
          await page.waitForFunction(
            () => {
              const nb = (window as unknown as { Jupyter?: { notebook?: Record<string, any> } })
                .Jupyter?.notebook;
              // Loaded, and the kernel answered kernel_info (it is started and connected).
              return Boolean(
                nb?._fully_loaded && nb.kernel?.is_connected() && nb.kernel.info_reply?.status,
              );
            },
            null,
            { timeout: 90_000 },
          );
          // Never save the learner's notebook.
          await page.evaluate(() => (window as any).Jupyter.notebook.set_autosave_interval(0));

          await page.locator("#celllink").click();
          await page.locator("#run_all_cells > a").click();
          await page.waitForFunction(
            (n) => {
              const prompts = Array.from(document.querySelectorAll(".code_cell .input_prompt"));
              const done = prompts.filter((p) => /In\s*\[\d+\]/.test(p.textContent ?? "")).length;
              return done >= n && !(window as any).Jupyter.notebook.kernel_busy;
            },
            lesson.codeCells,
            { timeout: 180_000, polling: 500 },
          );
          expect(
            await page.evaluate(() => (window as any).Jupyter.notebook.autosave_interval),
          ).toBe(0);
          await page.screenshot({ path: shotPath("notebook", lesson, "window") });

          // The notebook's own model: no error output, no stderr.
          const bad = await page.evaluate(() =>
            (window as any).Jupyter.notebook
              .get_cells()
              .flatMap((c: any) => c.output_area?.outputs ?? [])
              .filter(
                (o: any) =>
                  o.output_type === "error" || (o.output_type === "stream" && o.name === "stderr"),
              )
              .map((o: any) => (o.output_type === "error" ? `${o.ename}: ${o.evalue}` : o.text)),
          );
          expect(bad, "error or stderr outputs").toEqual([]);
          expect(await page.locator(".output_stderr, .output_error").count()).toBe(0);
          expect(
            await page.locator(".output_subarea", { hasText: "[plot not shown" }).count(),
          ).toBe(0);

          // Figures drawn by lib's text/html fallback, which loads the project's plotly.js.
          const plots = page.locator(".output_html .js-plotly-plot");
          await expect
            .poll(() => plots.count(), { timeout: 60_000 })
            .toBeGreaterThanOrEqual(lesson.plotCells);
          await checkPlots(plots, lesson, "notebook");

          await checkExerciseMessages(page.locator(".output_subarea"), lesson, "notebook");
          expect(pageErrors).toEqual([]);
        } catch (err) {
          await page.screenshot({ path: shotPath("notebook", lesson, "failure") }).catch(() => {});
          throw err;
        } finally {
          await shutDownKernels(course, lesson.file);
          await page.close();
        }
      },
      RUN_TIMEOUT_MS,
    );
  }
});

describe("the learner's files", () => {
  it("are untouched after both front ends ran the lessons", () => {
    expect(LESSONS.map((f) => sha256(path.join(ROOT, f)))).toEqual(before.hashes);
    expect(gitStatus()).toBe(before.git);
  });
});
