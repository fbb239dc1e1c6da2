/** Lesson 09: the Mamba block and language model, decoding, checkpoints. */
export * from "./config";
export * from "./model";
export * from "./init";
export * from "./forward";
export * from "./cache";
export * from "./generate";
export * from "./checkpoint";
