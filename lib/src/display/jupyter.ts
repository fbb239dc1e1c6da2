/**
 * The bridge from lib to the notebook front end. Inside our kernel (the project's tslab) a cell can
 * send rich output: a MIME bundle with several representations of one thing, so each front end
 * picks the best it can render. Outside a kernel (a plain `node` script) the same calls fall back
 * to text on stdout/stderr, so lib functions that display things work in both places.
 */

/** One output: MIME type -> payload (`text/plain` should always be present). */
export type MimeBundle = Record<string, unknown>;

type WriteDisplayData = (
  data: { data: MimeBundle; metadata: Record<string, unknown>; transient: { display_id?: string } },
  update: boolean,
) => void;

/**
 * tslab keeps the function that sends `display_data` on its `jupyter` module while a cell runs.
 * `tslab.display.raw` can send only one MIME type per output, so we call that function directly to
 * send a whole bundle. The kernel and lib resolve the same `tslab` package, so this is the live
 * module of the running kernel; in a plain script it is simply unset.
 */
function kernelWriter(): WriteDisplayData | null {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const jupyter = require("tslab/dist/jupyter") as {
      lastWriteDisplayData?: WriteDisplayData | null;
    };
    return jupyter.lastWriteDisplayData ?? null;
  } catch {
    return null;
  }
}

/** True when running inside a tslab kernel cell (rich output available). */
export function inKernel(): boolean {
  return kernelWriter() !== null;
}

/**
 * Sends one MIME bundle as a cell output. With `displayId`, later calls with `update: true` replace
 * that output in place (used for progress bars). Returns false (and prints `text/plain` instead)
 * outside a kernel.
 */
export function displayBundle(
  bundle: MimeBundle,
  options: { displayId?: string; update?: boolean } = {},
): boolean {
  const write = kernelWriter();
  if (write === null) {
    const text = bundle["text/plain"];
    if (typeof text === "string" && !options.update) console.log(text);
    return false;
  }
  write(
    {
      data: bundle,
      metadata: {},
      transient: options.displayId ? { display_id: options.displayId } : {},
    },
    options.update === true,
  );
  return true;
}

/** Shows Markdown (rendered in the notebook; raw text in a script). */
export function markdown(text: string): void {
  displayBundle({ "text/markdown": text, "text/plain": text });
}

/** Shows an HTML fragment with a text fallback. */
export function html(fragment: string, text: string): void {
  displayBundle({ "text/html": fragment, "text/plain": text });
}
