/**
 * A progress display for long cells (training loops, benchmarks): one output that updates in
 * place in the notebook, or a line on stderr in a script.
 */
import { randomBytes } from "node:crypto";
import { displayBundle, inKernel } from "./jupyter";
import { checkArg, schema } from "../validate";

/** A running progress display. */
export interface Progress {
  /** Sets the number of finished steps (0..total) and an optional status text. */
  update(done: number, status?: string): void;
  /** Marks the work finished. */
  finish(status?: string): void;
}

/** Starts a progress display for `total` steps labelled `label`. */
export function progress(label: string, total: number): Progress {
  checkArg("progress", "total", total, schema.integer({ min: 1 }));
  const displayId = randomBytes(8).toString("hex");
  const started = Date.now();
  const rich = inKernel();
  let lastDraw = 0;
  const render = (done: number, status: string, update: boolean): void => {
    const frac = Math.min(1, Math.max(0, done / total));
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    const text = `${label}: ${done}/${total} (${Math.round(frac * 100)}%) ${secs}s${status ? ` ${status}` : ""}`;
    if (rich) {
      const bar =
        `<div style="font-family:monospace">${escapeHtml(label)} ` +
        `<progress max="${total}" value="${done}" style="width:240px;vertical-align:middle"></progress> ` +
        `${done}/${total} · ${secs}s${status ? ` · ${escapeHtml(status)}` : ""}</div>`;
      displayBundle({ "text/html": bar, "text/plain": text }, { displayId, update });
    } else {
      process.stderr.write(`\r${text}${done >= total ? "\n" : ""}`);
    }
  };
  render(0, "", false);
  return {
    update(done, status = "") {
      // Redraw at most ~10 times a second: each redraw is a message to the front end.
      const now = Date.now();
      if (now - lastDraw < 100 && done < total) return;
      lastDraw = now;
      render(done, status, true);
    },
    finish(status = "done") {
      render(total, status, true);
    },
  };
}

/** Escapes text for inclusion in HTML. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
