/**
 * Every checked exercise of the course, by id. Each lesson's exercises live in one file named after
 * the lesson; add a lesson's list here when it lands.
 */
import type { Exercise } from "./check";
import { welcomeExercises } from "./00-welcome";
import { continuousSsmExercises } from "./01-continuous-ssm";
import { discretizationExercises } from "./02-discretization";
import { recurrenceConvolutionExercises } from "./03-recurrence-and-convolution";
import { memoryExercises } from "./04-memory-hippo-s4d";
import { whySelectionExercises } from "./05-why-selection";
import { selectiveSsmExercises } from "./06-selective-ssm";
import { parallelScanExercises } from "./07-parallel-scan";
import { hardwareAwareScanExercises } from "./08-hardware-aware-scan";
import { mambaBlockExercises } from "./09-mamba-block";
import { trainingExercises } from "./10-training";
import { inductionExtrapolationExercises } from "./11-induction-heads-and-extrapolation";
import { mambaVsTransformerExercises } from "./12-mamba-vs-transformer";
import { mamba2SsdExercises } from "./13-mamba2-and-ssd";

/** All exercises, in lesson order. */
export const exercises: readonly Exercise[] = [
  ...welcomeExercises,
  ...continuousSsmExercises,
  ...discretizationExercises,
  ...recurrenceConvolutionExercises,
  ...memoryExercises,
  ...whySelectionExercises,
  ...selectiveSsmExercises,
  ...parallelScanExercises,
  ...hardwareAwareScanExercises,
  ...mambaBlockExercises,
  ...trainingExercises,
  ...inductionExtrapolationExercises,
  ...mambaVsTransformerExercises,
  ...mamba2SsdExercises,
];

/** The exercise with this id, or an error listing the known ids. */
export function findExercise(id: string): Exercise {
  const found = exercises.find((e) => e.id === id);
  if (!found) {
    throw new Error(
      `check: unknown exercise id ${JSON.stringify(id)}; known ids: ${exercises.map((e) => e.id).join(", ")}`,
    );
  }
  return found;
}
