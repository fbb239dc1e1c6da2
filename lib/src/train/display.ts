/**
 * What a training run shows while it runs: in a notebook, a progress bar (loss, accuracy,
 * tokens/s, ETA) and a loss/accuracy plot updated in place; in a script, the bar as a line on
 * stderr.
 */
import { displayBundle, inKernel } from "../display/jupyter";
import { figureBundle, lineChart } from "../display/plot";
import { progress } from "../display/progress";
import type { StepRecord, TrainResult } from "./loop";

/** The live display of one run of `total` steps, labelled `label` ("mamba", "transformer"). */
export function trainingDisplay(label: string, total: number) {
  const bar = progress(`training (${label})`, total);
  const plot = inKernel() ? livePlot() : null;
  return {
    /** After each step: the bar's line, and the plot at most every 2 s. */
    step(history: StepRecord[], etaSeconds: number): void {
      const r = history[history.length - 1];
      bar.update(
        r.step,
        `loss ${r.loss.toFixed(3)} · acc ${(r.accuracy * 100).toFixed(1)}% · ${Math.round(r.tokensPerSecond)} tok/s · ETA ${etaSeconds.toFixed(0)}s`,
      );
      plot?.update(history, false);
    },
    /** At the end: a summary on the bar (a full bar only for a run that finished its schedule). */
    async end(history: StepRecord[], step: number, stopped: TrainResult["stopped"]): Promise<void> {
      const last = history[history.length - 1];
      const summary = last
        ? `${stopped} at step ${step}: loss ${last.loss.toFixed(3)}, acc ${(last.accuracy * 100).toFixed(1)}%`
        : stopped;
      if (stopped === "done") bar.finish(summary);
      else {
        await new Promise((resolve) => setTimeout(resolve, 110)); // past the bar's redraw throttle
        bar.update(step, summary);
      }
      plot?.update(history, true);
    },
  };
}

/** A loss/accuracy plot updated in place at most every 2 s. */
function livePlot(): { update(history: StepRecord[], final: boolean): void } {
  const displayId = `train-${Date.now()}-${Math.random().toString(16).slice(2)}`;
  let last = 0;
  let first = true;
  return {
    update(history, final) {
      const now = Date.now();
      if (!final && now - last < 2000) return;
      if (history.length === 0) return;
      last = now;
      const steps = history.map((r) => r.step);
      const fig = lineChart(
        [
          { name: "loss (nats)", x: steps, y: history.map((r) => r.loss) },
          { name: "accuracy", x: steps, y: history.map((r) => r.accuracy) },
        ],
        { title: "training", xLabel: "step", height: 300 },
      );
      displayBundle(figureBundle(fig), { displayId, update: !first });
      first = false;
    },
  };
}
