/** Lesson 05: the best fixed-kernel (LTI) baseline on token tasks. */
export * from "./baseline";
