/** What every language model of the course shares: token batches, the loss, sampling. */
export { type TokenBatch } from "./tokens";
export { type LossAndGrads } from "./loss";
export { sampleNextToken } from "./sampling";
