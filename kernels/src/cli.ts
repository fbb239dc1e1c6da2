/**
 * How the course's commands talk to the learner: one-line messages prefixed `mamba-ts:`, errors
 * meant for the learner (no stack trace), exit codes and option parsing. Shared by `npm start`,
 * `npm run kernel:install`, `npm run lessons` and `npm run exercises`.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";

/** Prints one line prefixed with `mamba-ts:` so the learner can tell our messages from Jupyter's. */
export function say(message: string): void {
  console.log(`mamba-ts: ${message}`);
}

/** Prints a warning line on stderr. */
export function warn(message: string): void {
  console.error(`mamba-ts: warning: ${message}`);
}

/** An error meant for the learner: printed as is, without a stack trace. */
export class SetupError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = "SetupError";
  }
}

/**
 * Runs `main()` and turns a SetupError into a clear message and a non-zero exit status.
 * Any other error is a bug: it is printed with its stack.
 */
export async function runMain(main: () => Promise<number | void>): Promise<void> {
  try {
    const code = await main();
    process.exitCode = typeof code === "number" ? code : 0;
  } catch (err) {
    if (err instanceof SetupError) {
      console.error(`mamba-ts: error: ${err.message}`);
      process.exitCode = err.exitCode;
    } else {
      console.error(err);
      process.exitCode = 1;
    }
  }
}

/**
 * Parses options with node's parseArgs, reporting unknown options and stray arguments as a
 * SetupError that shows the usage text.
 */
export function parseOptions<O extends NonNullable<ParseArgsConfig["options"]>>(
  args: string[],
  options: O,
  usage: string,
) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new SetupError(`${(err as Error).message}\n\n${usage}`, 2);
  }
}
