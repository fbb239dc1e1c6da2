/** Forward ops of the models (lessons 09-12) over lib tensors, PyTorch's layouts. */
export * from "./linear";
export * from "./rms-norm";
export * from "./embedding";
export * from "./conv1d";
export * from "./elementwise";
export * from "./transpose";
export * from "./slice";
