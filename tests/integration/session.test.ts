/**
 * One notebook's kernel on a real Jupyter server (kernels/src/runner/session.ts), where the
 * messaging can go wrong in ways a whole-notebook run rarely shows: here, a connection that loses
 * its first `idle` status. The kernel is the real mamba-ts kernel with that one message dropped
 * (fixtures/session/kernels/mamba-ts-loses-first-idle), so the loss happens every time.
 */
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type JupyterServer, courseRoot, startJupyterServer } from "../../kernels/src/index";
import { NotebookKernel, serverSettings } from "../../kernels/src/runner/session";

const ROOT = courseRoot();
const FIXTURE_KERNELS = path.join(ROOT, "tests", "integration", "fixtures", "session");

let server: JupyterServer;

beforeAll(async () => {
  // The server looks for kernelspecs in JUPYTER_PATH's folders (the course root comes first).
  const saved = process.env.JUPYTER_PATH;
  process.env.JUPYTER_PATH = FIXTURE_KERNELS;
  try {
    server = await startJupyterServer();
  } finally {
    if (saved === undefined) delete process.env.JUPYTER_PATH;
    else process.env.JUPYTER_PATH = saved;
  }
});

afterAll(async () => {
  await server?.stop();
});

describe("NotebookKernel.start", () => {
  it("starts a kernel whose first idle status never arrives, by asking for kernel info again", async () => {
    const started = Date.now();
    const kernel = await NotebookKernel.start(serverSettings(server), {
      path: "tests/integration/fixtures/runner/hello.ipynb",
      kernelName: "mamba-ts-loses-first-idle",
      // Without asking again, `start` waits for this long and fails.
      startTimeoutMs: 60_000,
    });
    try {
      // Asked again within seconds, not at the timeout.
      expect(Date.now() - started).toBeLessThan(30_000);
      const execution = await kernel.execute('console.log("still answers")', {
        timeoutMs: 60_000,
      });
      expect(execution.outcome).toBe("reply");
      expect(execution.reply?.status).toBe("ok");
      expect(execution.outputs).toEqual([
        { output_type: "stream", name: "stdout", text: ["still answers\n"] },
      ]);
    } finally {
      await kernel.shutdown();
    }
  });
});
