/**
 * Property: every exported function of lib, given one argument its schema rejects (and valid
 * values for the others), throws an Error whose message starts with the function's name and names
 * the argument. The bad values come from the schemas of `signatures.ts`: every `invalid()` sample
 * of a schema that its `problem()` rejects, then arbitrary values (fast-check) it rejects.
 * The export list is enumerated, so a function added to the index without a row in
 * `signatures.ts` (or a stated reason in EXEMPT below) fails this test.
 */
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import * as lib from "../../lib/src/index";
import * as scanKernels from "../../lib/src/gpu/scan-kernels";
import {
  type OptionsSchema,
  type Schema,
  describe as describeValue,
  isAbsent,
} from "../../lib/src/validate";
import { removeScratch, signatures } from "./signatures";

afterAll(removeScratch);

// lib's root index plus the kernel-source generators, which lesson 08 and the gpu.js scans use
// from their module (they are not in the curated index) and which reject bad input all the same.
const api: Record<string, unknown> = { ...scanKernels, ...lib };

/** Exported functions not driven with bad input (space-separated names), by reason. */
const EXEMPT_BY_REASON: Record<string, string> = {
  "checks or formats any value by design, or is an error class":
    "describe checkScanDims displayBundle markdown html show " +
    "NotImplementedError notImplemented " +
    "CheckFailedError",
  "takes no arguments": "passInputSource passDecaySource releaseWebGpu",
  "runs a learner's function or looks exercises up (exercises/check.test.ts)":
    "check evaluateExercise findExercise checkBundle",
  "probes the environment or times the machine":
    "wasmSimdSupported gpuBackends bestGpuBackend maxTextureSize bestOfSeconds " +
    "measureExpThroughput measureMemoryBandwidth measureMachineLimits",
  "file IO on the course's datasets (datasets/index.test.ts, tasks/fixed.test.ts)":
    "datasetsDir sha256Hex readManifest datasetPath loadDatasetBytes loadDatasetText " +
    "loadDatasetJSON verifyDatasets loadEcg loadTaskSet loadSelectiveCopying loadInductionHeads",
  "needs gpu.js or a WebGPU device (its option errors: gpu/selective-scan.test.ts, bad-input.test.ts)":
    "createGpuSelectiveScan gpuSelectiveScan createGpuDecoder runGpuKernel " +
    "createGpuSelectiveScanAsync gpuSelectiveScanAsync installWebGpu",
  "async: bad input rejects its promise (train/loop.test.ts)":
    "trainMamba trainTransformer trainMamba2",
  "the fused scan and its WebGPU helpers: need gpu.js or a WebGPU device (gpu/fused-scan.test.ts)":
    "createFusedGpuScan fusedScanTraffic " + "measureWebGpuSubmit",
  "the hand-written WGSL scan: needs a WebGPU device (its option errors: gpu/wgsl-scan.test.ts)":
    "createWgslScan",
  "the chunked SSD on gpu.js: needs gpu.js or a WebGPU device; async (gpu/ssd.test.ts)":
    "createGpuSsd gpuSsdChunked",
};
const EXEMPT = Object.values(EXEMPT_BY_REASON).flatMap((names) => names.split(" "));

const exported = Object.keys(api).filter((k) => typeof api[k] === "function");

describe("the registry covers every exported function", () => {
  it("each exported function has a signature, or a stated reason not to", () => {
    const missing = exported.filter((k) => !(k in signatures) && !EXEMPT.includes(k));
    expect(missing, "add these to tests/unit/signatures.ts").toEqual([]);
    const both = EXEMPT.filter((k) => k in signatures);
    expect(both, "in both EXEMPT and signatures.ts").toEqual([]);
    const stale = EXEMPT.filter((k) => !exported.includes(k));
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
      /** Calls the function with `bad` as this argument; expects an error naming both. */
      const named = (bad: unknown): void => {
        const args = sig.valid();
        args[i] = bad;
        let error: unknown = null;
        try {
          call(...args);
        } catch (e) {
          error = e;
        }
        expect(error, `no error for ${fnName}(${arg.name} = ${describeValue(bad)})`).toBeInstanceOf(
          Error,
        );
        const message = (error as Error).message;
        expect(message.startsWith(`${fnName}: `), message).toBe(true);
        expect(message.includes(`'${arg.name}`) || message.includes(` ${arg.name}`), message).toBe(
          true,
        );
      };
      it(`${name}: a bad '${arg.name}' is named`, () => {
        schema
          .invalid()
          .filter((bad) => schema.problem(bad) !== null)
          .forEach(named);
        fc.assert(fc.property(badValues(schema), named), { numRuns: 25, seed: 20231201 });
      });
      // An options object's fields: each rejected sample of one field, the others as in the
      // valid call; the error names the function and `<argument>.<field>`.
      const fields = (schema as Partial<OptionsSchema<Record<string, Schema>>>).fields ?? {};
      for (const [key, field] of Object.entries(fields)) {
        it(`${name}: a bad '${arg.name}.${key}' is named`, () => {
          for (const bad of field
            .invalid()
            .filter((v) => !isAbsent(v) && field.problem(v) !== null)) {
            const args = sig.valid();
            const given = args[i];
            args[i] = { ...(typeof given === "object" && given !== null ? given : {}), [key]: bad };
            let error: unknown = null;
            try {
              call(...args);
            } catch (e) {
              error = e;
            }
            const what = `${fnName}(${arg.name}.${key} = ${describeValue(bad)})`;
            expect(error, `no error for ${what}`).toBeInstanceOf(Error);
            const message = (error as Error).message;
            expect(message.startsWith(`${fnName}: `), message).toBe(true);
            expect(message.includes(`${arg.name}.${key}`), message).toBe(true);
          }
        });
      }
    });
  }
});
