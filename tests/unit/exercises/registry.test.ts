/**
 * The exercise registry (lib/src/exercises/registry.ts): unique ids, a lesson and a hint for every
 * exercise, seeded cases that repeat exactly; and every exercise solved independently in the
 * lessons-NN-MM.test.ts file of its lesson.
 */
import { readFileSync, readdirSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { CHECK_SEED } from "../../../lib/src/exercises/check";
import { exercises } from "../../../lib/src/exercises/registry";
import { Rng } from "../../../lib/src/rng";

describe("the exercise registry", () => {
  it("every registered exercise has a unique id, a lesson, a hint and deterministic cases", () => {
    const ids = exercises.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const e of exercises) {
      expect(e.lesson).toMatch(/^\d\d-[a-z0-9-]+$/);
      expect(e.hint.length).toBeGreaterThan(0);
      const a = e.cases(new Rng(CHECK_SEED));
      const b = e.cases(new Rng(CHECK_SEED));
      expect(a.length).toBeGreaterThan(0);
      expect(a).toEqual(b);
    }
  });

  it("every exercise has an independent solution in the test file of its lesson range", () => {
    const missing = exercises.filter((e) => {
      const lesson = Number(e.lesson.slice(0, 2));
      const file = readdirSync(__dirname).find((f) => {
        const range = /^lessons-(\d\d)-(\d\d)\.test\.ts$/.exec(f);
        return range !== null && Number(range[1]) <= lesson && lesson <= Number(range[2]);
      });
      return (
        file === undefined ||
        !readFileSync(path.join(__dirname, file), "utf8").includes(`["${e.id}", `)
      );
    });
    expect(missing.map((e) => `${e.lesson} ${e.id}`)).toEqual([]);
  });
});
