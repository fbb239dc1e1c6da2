/**
 * What the training scripts (`lib/scripts/train/*.ts`) share: reading their options, logging to
 * the console and to a run's log file, the command that made a run, the progress a run keeps
 * between slices, and the evaluations it logs as it trains.
 */
import { appendFileSync, mkdirSync } from "node:fs";
import * as path from "node:path";
import type { StepRecord } from "../dist/train/loop";

/** The value after `--name` on the command line, or `fallback`. */
export function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

/** Whether `--name` is on the command line. */
export const flag = (name: string): boolean => process.argv.includes(`--${name}`);

/**
 * Refuses, before anything runs, a command line that training script `script` would misread: an
 * option it does not know (`--help` among them: the usage is the script's header), an option of
 * `options` without its value, or a stray word. A mistyped option would otherwise be ignored and
 * a default training run start, appending to the committed logs.
 */
export function checkCommandLine(script: string, options: string[], flags: string[]): void {
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].startsWith("--") ? argv[i].slice(2) : null;
    if (name !== null && flags.includes(name)) continue;
    if (name !== null && options.includes(name) && i + 1 < argv.length) {
      i++;
      continue;
    }
    throw new Error(
      `${script}: unknown or incomplete option ${JSON.stringify(argv[i])}: ` +
        `options that take a value: --${options.join(", --")}; flags: --${flags.join(", --")}; ` +
        `the usage is at the top of lib/scripts/train/${script}.ts`,
    );
  }
}

/** A function that prints a line and appends it to `file` (its folder made if missing). */
export function logger(file: string): (line: string) => void {
  mkdirSync(path.dirname(file), { recursive: true });
  return (line: string) => {
    console.log(line);
    appendFileSync(file, line + "\n");
  };
}

/**
 * The command that made a run of training script `script`, without the flags that only say how it
 * was scheduled (`--resume`, `--time-limit SECONDS`): the same command run to the end gives the
 * same model.
 */
export function runCommand(script: string): string {
  const args: string[] = [];
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--resume") continue;
    if (argv[i] === "--time-limit") {
      i++;
      continue;
    }
    args.push(argv[i]);
  }
  return `npm run train -- ${script} ${args.join(" ")}`.trim();
}

/** One evaluation of the validation set. */
export interface Evaluation {
  step: number;
  loss: number;
  accuracy: number;
}

/** The mean training loss and batch accuracy over one evaluation interval, ending at `step`. */
export interface TrainPoint {
  step: number;
  loss: number;
  accuracy: number;
}

/** What a run keeps between slices (and sessions): in WORK/<name>/progress.json. */
export interface Progress {
  evaluations: Evaluation[];
  train: TrainPoint[];
  /** The sums of the interval in progress (a run interrupted between evaluations keeps them). */
  partial?: { loss: number; accuracy: number; n: number };
  seconds: number;
  commands: string[];
}

/**
 * Evaluates a run and logs it as it trains, keeping the results in `progress`. Every `evalEvery`
 * steps {@link onStep} appends the interval's mean training loss and batch accuracy to
 * `progress.train`, evaluates the validation set into `progress.evaluations` and logs a line
 * `NAME step S: train loss …, validation loss … acc …%, … tok/s, … s` (seconds since
 * {@link start}); accuracies are printed in percent with `decimals` decimals, as the run's
 * records and tests expect. The sums of the interval in progress start from `progress.partial`.
 */
export class EvaluationLog {
  /** The sums of the interval in progress: save them as `progress.partial` with the run. */
  partial: { loss: number; accuracy: number; n: number };
  /** The throughput of the latest step. */
  tokensPerSecond = 0;
  private started = 0;

  constructor(
    private readonly run: {
      name: string;
      progress: Progress;
      evaluate: (step: number) => Evaluation;
      log: (line: string) => void;
      evalEvery: number;
      /** The decimals of the logged accuracies (in percent). */
      decimals: number;
    },
  ) {
    this.partial = run.progress.partial ?? { loss: 0, accuracy: 0, n: 0 };
  }

  /**
   * Evaluates and logs the untrained model as step 0 (unless the run `resumed`), then starts the
   * clock the logged seconds count from and returns it (`Date.now()`).
   */
  start(resumed: boolean): number {
    if (!resumed) {
      const e = this.run.evaluate(0);
      this.run.progress.evaluations.push(e);
      this.run.log(`${this.run.name} step 0: validation loss ${this.validation(e)}`);
    }
    this.started = Date.now();
    return this.started;
  }

  /** Counts step `r` (pass as a training loop's `onStep`), evaluating at every `evalEvery`. */
  onStep = (r: StepRecord): void => {
    const sum = this.partial;
    this.partial = { loss: sum.loss + r.loss, accuracy: sum.accuracy + r.accuracy, n: sum.n + 1 };
    this.tokensPerSecond = r.tokensPerSecond;
    if (r.step % this.run.evalEvery !== 0) return;
    const { progress, name } = this.run;
    const n = this.partial.n;
    progress.train.push({
      step: r.step,
      loss: this.partial.loss / n,
      accuracy: this.partial.accuracy / n,
    });
    this.partial = { loss: 0, accuracy: 0, n: 0 };
    const e = this.run.evaluate(r.step);
    progress.evaluations.push(e);
    this.run.log(
      `${name} step ${r.step}: train loss ${progress.train[progress.train.length - 1].loss.toFixed(4)}, validation loss ${this.validation(e)}, ${Math.round(this.tokensPerSecond)} tok/s, ${((Date.now() - this.started) / 1000).toFixed(0)} s`,
    );
  };

  private validation(e: Evaluation): string {
    return `${e.loss.toFixed(4)} acc ${(e.accuracy * 100).toFixed(this.run.decimals)}%`;
  }
}
