/**
 * The exercise registry (lib/src/exercises/registry.ts): unique ids, a lesson and a hint for every
 * exercise, seeded cases that repeat exactly.
 */
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
});
