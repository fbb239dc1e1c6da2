/** Lesson 06: the selective SSM (S6). */
export * from "./activations";
export * from "./scan";
export * from "./step";
export * from "./matrix";
export * from "./s6";
