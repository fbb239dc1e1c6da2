/**
 * @mamba-ts/lib: the library behind the lessons. Modules mirror the syllabus; see README.md for
 * the map from lesson to module.
 */
export * from "./tensor";
export * from "./validate";
export * from "./rng";
export * from "./display/jupyter";
export * from "./display/plot";
export * from "./display/progress";
export * from "./exercises/check";
export { exercises } from "./exercises/registry";
export { exponentialMovingAverage } from "./exercises/00-welcome";
