/**
 * What the training scripts (`lib/scripts/train/*.ts`) share: reading their options, logging to
 * the console and to a run's log file, the command that made a run, and the progress a run keeps
 * between slices.
 */
import { appendFileSync, mkdirSync } from "node:fs";
import * as path from "node:path";

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
