/**
 * The three checks every lesson range's exercise tests make (tests/unit/exercises/lessons-*.test.ts):
 * an independently written solution passes its check, the learner's unsolved stub reports "not
 * implemented", and a typical mistake fails naming the exercise (and, where given, saying more).
 */
import { describe, expect, it } from "vitest";
import { evaluateExercise, notImplemented } from "../../lib/src/index";

/** [exercise id, a solution written in the test]. */
export type Solved = [id: string, solution: unknown];
/** [exercise id, the mistake, a function making it, what the failure must say besides the id]. */
export type Mistake = [id: string, what: string, wrong: unknown, says?: RegExp];

export function exerciseChecks(lessons: string, solved: Solved[], mistakes: Mistake[]): void {
  describe(`lessons ${lessons}: independently written solutions pass their checks`, () => {
    it.each(solved)("%s", (id, solution) => {
      expect(evaluateExercise(id, solution).status).toBe("passed");
    });
  });

  describe(`lessons ${lessons}: the learner's stub reports 'not implemented'`, () => {
    it.each(solved.map(([id]) => id))("%s", (id) => {
      const r = evaluateExercise(id, () => {
        throw notImplemented(id);
      });
      expect(r.status).toBe("not-implemented");
      expect(r.message).toMatch(/⏳/);
    });
  });

  describe(`lessons ${lessons}: a typical mistake fails its check, naming the exercise`, () => {
    it.each(mistakes)("%s: %s", (id, _what, wrong, says) => {
      expect(() => evaluateExercise(id, wrong)).toThrow(new RegExp(`✗ ${id}: `));
      if (says) expect(() => evaluateExercise(id, wrong)).toThrow(says);
    });
  });
}
