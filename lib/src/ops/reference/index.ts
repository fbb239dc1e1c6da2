/**
 * The reference backend: TypeScript loops, float64 sums, float32 or float64 tensors. What the
 * lessons read, and what every other backend is tested against.
 */
import type { Tensor } from "../../tensor";
import type { Backend } from "../backend";
import * as f from "./forward";
import * as b from "./backward";
import * as att from "./attention";
import { ssd, ssdBackward } from "./ssd";

export const reference: Backend = {
  name: "reference",
  embedding: f.embedding,
  linear: f.linear,
  rmsNorm: f.rmsNorm,
  silu: f.silu,
  add: f.add,
  mul: f.mul,
  split: f.split,
  concat: f.concat,
  lastPosition: f.lastPosition,
  causalConv1d: f.causalConv1d,
  negExp: f.negExp,
  selectiveScan: f.selectiveScan,
  rope: att.rope,
  attention: att.attention,
  ssd,
  linearBackward: b.linearBackward,
  rmsNormBackward: b.rmsNormBackward,
  embeddingBackward: b.embeddingBackward,
  siluBackward: b.siluBackward,
  causalConv1dBackward: b.causalConv1dBackward,
  selectiveScanTrain: b.selectiveScanTrain,
  selectiveScanBackward: b.selectiveScanBackward,
  ropeBackward: b.ropeBackward,
  attentionTrain: b.attentionTrain,
  attentionBackward: b.attentionBackward,
  ssdBackward,
  crossEntropy: b.crossEntropy,
  zeros: (shape: readonly number[], like: Tensor): Tensor => ({
    shape: [...shape],
    data: f.alloc(
      like,
      shape.reduce((a, s) => a * s, 1),
    ),
  }),
  addInto: (acc: Tensor, g: Tensor): void => {
    for (let i = 0; i < acc.data.length; i++) acc.data[i] += g.data[i];
  },
};
