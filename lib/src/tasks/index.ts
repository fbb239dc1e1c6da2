/** Lesson 05 (and 10-11): seeded synthetic sequence tasks. */
export * from "./types";
export * from "./copying";
export * from "./induction";
export * from "./util";
export * from "./io";
export * from "./fixed";
