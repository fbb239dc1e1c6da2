/**
 * Property: every exported function of lib, given one argument its schema rejects (and valid
 * values for the others), throws an Error whose message starts with the function's name and names
 * the argument. Bad values come from the schemas themselves: each schema's `invalid()` samples,
 * plus arbitrary values (fast-check) that the schema's `problem()` rejects. The export list is
 * enumerated, so a function added to the index without a signature in `signatures.ts` (or a
 * commented entry below) fails this test.
 */
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import * as lib from "../../lib/src/index";
import * as scanKernels from "../../lib/src/gpu/scan-kernels";
import { type Schema, describe as describeValue } from "../../lib/src/validate";
import { removeScratch, signatures } from "./signatures";

afterAll(removeScratch);

// lib's root index plus the kernel-source generators, which lesson 08 and the gpu.js scans use
// from their module (they are not in the curated index) and which reject bad input all the same.
const api: Record<string, unknown> = { ...scanKernels, ...lib };

/** Not driven with bad input, with the reason. */
const EXEMPT: Record<string, string> = {
  // Validation helpers: they take any value by design and are the thing under test.
  describe: "validator",
  checkScanDims: "validator",
  // Unchecked "raw" layers and internal helpers that take the caller's name: exported for lib's
  // own modules, checked by the public functions that call them.
  checkLlamaConfig: "internal helper (checks a config for its caller)",
  phi1: "scalar formula of the inner loops ((e^z - 1) / z, NaN in gives NaN out like Math.expm1)",
  // A predicate (any value in, a boolean out) and sources that take no arguments.
  isPow2: "predicate",
  passInputSource: "takes no arguments",
  passDecaySource: "takes no arguments",
  takeUncapturedWebGpuErrors: "takes no arguments",
  // Display and exercise machinery: they format or compare any value by design.
  inKernel: "environment probe",
  displayBundle: "formats any value",
  markdown: "formats any string",
  html: "formats any string",
  figureBundle: "serialises a figure",
  show: "displays a figure",
  escapeHtml: "formats any string",
  NotImplementedError: "error class",
  notImplemented: "throws by design",
  check: "runs a learner's function; tested in exercises/check.test.ts",
  findExercise: "looks up the exercise registry; tested in exercises/check.test.ts",
  checkBundle: "formats a check outcome; tested in exercises/check.test.ts",
  CheckFailedError: "an Error class carrying a check outcome",
  bestOfSeconds: "times the machine",
  evaluateExercise: "runs a learner's function; tested in exercises/check.test.ts",
  cloneArgument: "copies any value by design",
  formatValue: "formats any value by design",
  compareValues: "compares any values by design",
  // Environment probes and Jupyter tooling (leaving lib's index in the package split).
  wasmSimdSupported: "environment probe",
  gpuBackends: "environment probe",
  bestGpuBackend: "environment probe",
  maxTextureSize: "environment probe",
  // File IO: checked by datasets/index.test.ts against temporary folders.
  datasetsDir: "file IO",
  sha256Hex: "hashes any bytes",
  readManifest: "file IO",
  datasetPath: "file IO",
  loadDatasetBytes: "file IO",
  loadDatasetText: "file IO",
  loadDatasetJSON: "file IO",
  verifyDatasets: "file IO",
  loadEcg: "file IO",
  loadTaskSet: "file IO",
  loadSelectiveCopying: "file IO",
  loadInductionHeads: "file IO",
  // Need a GPU context or time the machine: their checks are tested in gpu-scan.test.ts and
  // selective-fast/fast-scan.test.ts.
  createGpuSelectiveScan: "needs gpu.js",
  gpuSelectiveScan: "needs gpu.js (bad-input.test.ts checks its option errors)",
  createGpuDecoder: "needs gpu.js (bad-input.test.ts checks its batch cap)",
  runGpuKernel: "needs gpu.js",
  createGpuSelectiveScanAsync: "needs gpu.js",
  // Async: bad input rejects the promise (the property test calls synchronously).
  gpuSelectiveScanAsync: "async, needs gpu.js",
  installWebGpu: "async, needs the webgpu module",
  withDeviceErrorScopes: "async, needs a WebGPU device",
  releaseWebGpu: "async, takes no arguments",
  trainMamba: "async: its option errors are tested in train/loop.test.ts",
  trainTransformer: "async: its option errors are tested in train/loop.test.ts",
  measureExpThroughput: "times the machine",
  measureMemoryBandwidth: "times the machine",
  measureMachineLimits: "times the machine",
};

/**
 * Numeric functions whose hand-written checks are tested in their own module's tests but that
 * have no signature in signatures.ts yet: move each into the registry (and off this list).
 */
const PENDING: string[] = [
  // Every exported function now has a signature or a reason in EXEMPT; add one here only with a
  // comment saying why it cannot be described yet.
];

const exported = Object.keys(api).filter((k) => typeof api[k] === "function");

describe("the registry covers every exported function", () => {
  it("each exported function has a signature, or a stated reason not to", () => {
    const missing = exported.filter(
      (k) => !(k in signatures) && !(k in EXEMPT) && !PENDING.includes(k),
    );
    expect(missing, "add these to tests/unit/signatures.ts").toEqual([]);
    const both = PENDING.filter((k) => k in signatures || k in EXEMPT);
    expect(both, "drop these from PENDING").toEqual([]);
    const stale = [...Object.keys(EXEMPT), ...PENDING].filter((k) => !exported.includes(k));
    expect(stale, "no longer exported").toEqual([]);
  });
});

const badValues = (schema: Schema): fc.Arbitrary<unknown> =>
  fc.oneof(
    fc.constantFrom(...schema.invalid()),
    fc.anything({ maxDepth: 2, maxKeys: 3 }).filter((v) => schema.problem(v) !== null),
  );

describe("bad input from the schemas", () => {
  for (const [name, sig] of Object.entries(signatures)) {
    const call =
      sig.call ?? ((...args: unknown[]) => (api[name] as (...x: unknown[]) => unknown)(...args));
    const fnName = name.replace("#", ".");
    it(`${name}: the valid call succeeds`, () => {
      expect(() => call(...sig.valid())).not.toThrow();
    });
    sig.args.forEach((arg, i) => {
      if (arg.schema === null) return;
      const schema = arg.schema;
      it(`${name}: a bad '${arg.name}' is named`, () => {
        fc.assert(
          fc.property(badValues(schema), (bad) => {
            const args = sig.valid();
            args[i] = bad;
            let error: unknown = null;
            try {
              call(...args);
            } catch (e) {
              error = e;
            }
            expect(
              error,
              `no error for ${fnName}(${arg.name} = ${describeValue(bad)})`,
            ).toBeInstanceOf(Error);
            const message = (error as Error).message;
            expect(message.startsWith(`${fnName}: `), message).toBe(true);
            expect(
              message.includes(`'${arg.name}`) || message.includes(` ${arg.name}`),
              message,
            ).toBe(true);
          }),
          { numRuns: 25, seed: 20231201 },
        );
      });
    });
  }
});
