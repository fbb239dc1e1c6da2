/**
 * Progress bars and rich output (lib/src/display/progress.ts, display/jupyter.ts): a status line on
 * stderr in a plain process; inside a kernel (tslab's live module replaced by a recorder) one HTML
 * display updated in place; displayBundle and escapeHtml.
 */
import { createRequire } from "node:module";
import { afterEach, describe, expect, it, vi } from "vitest";
import { escapeHtml, progress } from "../../../lib/src/display/progress";
import { displayBundle, inKernel } from "../../../lib/src/display/jupyter";

const require_ = createRequire(__filename);
/** tslab's live module: inside a kernel it holds the function that sends display_data. */
const tslabJupyter = require_("tslab/dist/jupyter") as { lastWriteDisplayData: unknown };

type Sent = {
  data: { data: Record<string, unknown>; transient: { display_id?: string } };
  update: boolean;
};

/** Pretends to be inside a kernel: records what would be sent to the front end. */
function fakeKernel(): Sent[] {
  const sent: Sent[] = [];
  tslabJupyter.lastWriteDisplayData = (data: Sent["data"], update: boolean) =>
    sent.push({ data, update });
  return sent;
}

afterEach(() => {
  tslabJupyter.lastWriteDisplayData = null;
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe("progress in a plain process", () => {
  it("writes a status line to stderr and ends it with a newline", () => {
    const writes: string[] = [];
    vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
      writes.push(String(chunk));
      return true;
    });
    vi.useFakeTimers();
    const p = progress("training", 4);
    expect(writes[0]).toMatch(/^\rtraining: 0\/4 \(0%\) 0\.0s$/);
    vi.advanceTimersByTime(200);
    p.update(1, "loss 0.5");
    expect(writes[1]).toMatch(/^\rtraining: 1\/4 \(25%\) 0\.2s loss 0\.5$/);
    // Updates closer together than 100 ms are dropped (each redraw is a message).
    vi.advanceTimersByTime(10);
    p.update(2);
    expect(writes.length).toBe(2);
    p.finish();
    expect(writes[2]).toMatch(/^\rtraining: 4\/4 \(100%\) 0\.2s done\n$/);
  });

  it("always draws the final step even when it comes quickly", () => {
    const writes: string[] = [];
    vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
      writes.push(String(chunk));
      return true;
    });
    const p = progress("x", 3);
    p.update(1);
    p.update(3);
    expect(writes.at(-1)).toMatch(/x: 3\/3 \(100%\).*\n$/);
  });

  it("rejects a bad total, naming it", () => {
    expect(() => progress("x", 0)).toThrow(
      /progress: argument 'total' must be an integer >= 1 \(got 0\)/,
    );
    expect(() => progress("x", 2.5)).toThrow(/progress: argument 'total'/);
  });
});

describe("progress inside a kernel", () => {
  it("sends one HTML display and updates it in place", () => {
    const sent = fakeKernel();
    expect(inKernel()).toBe(true);
    vi.useFakeTimers();
    const p = progress("a <b>", 10);
    vi.advanceTimersByTime(500);
    p.update(5, "half");
    p.finish("ok");
    expect(sent.length).toBe(3);
    const ids = new Set(sent.map((s) => s.data.transient.display_id));
    expect(ids.size).toBe(1);
    expect([...ids][0]).toMatch(/^[0-9a-f]{16}$/);
    expect(sent.map((s) => s.update)).toEqual([false, true, true]);
    const last = sent[2].data.data;
    expect(last["text/plain"]).toMatch(/^a <b>: 10\/10 \(100%\) 0\.5s ok$/);
    expect(last["text/html"]).toContain('<progress max="10" value="10"');
    expect(last["text/html"]).toContain("a &#60;b&#62;");
    expect(last["text/html"]).not.toContain("<b>");
  });
});

describe("displayBundle and escapeHtml", () => {
  it("prints text/plain outside a kernel, but not for updates", () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => undefined);
    expect(displayBundle({ "text/plain": "hello", "text/html": "<b>hello</b>" })).toBe(false);
    expect(displayBundle({ "text/plain": "again" }, { displayId: "x", update: true })).toBe(false);
    expect(log.mock.calls).toEqual([["hello"]]);
  });

  it("sends the whole bundle inside a kernel", () => {
    const sent = fakeKernel();
    expect(displayBundle({ "text/plain": "t", "text/markdown": "*t*" }, { displayId: "d1" })).toBe(
      true,
    );
    expect(sent).toEqual([
      {
        data: {
          data: { "text/plain": "t", "text/markdown": "*t*" },
          metadata: {},
          transient: { display_id: "d1" },
        },
        update: false,
      },
    ]);
  });

  it("escapes the five HTML special characters", () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe(
      "&#60;a href=&#34;x&#34;&#62;&#39;&#38;&#39;&#60;/a&#62;",
    );
  });
});
