import { alexnetSpec } from "@convnets/alexnet";
import type { ModelSpec } from "@convnets/core";
import { densenetSpec } from "@convnets/densenet";
import { googlenetSpec } from "@convnets/googlenet";
import { lenetBNSpec, lenetSpec } from "@convnets/lenet";
import { ninSpec } from "@convnets/nin";
import { resnet18Spec } from "@convnets/resnet";
import { vgg11Spec } from "@convnets/vgg";

/** One row of the comparison: a network (ours, and our PyTorch peer's of the same name) and what it is measured at. */
export interface BenchRow {
  spec: ModelSpec;
  inputSize: number;
  batchSize: number;
  /** Batches per timed pass. */
  batches: number;
  /** Timed passes for this row when it differs from --runs. */
  runs?: number;
  /** Why this row differs from the book's recipe, if it does. */
  note?: string;
}

/** The networks the book trains at 224×224 are measured at this side (AlexNet needs ≥ 65, NiN ≥ 67). */
export const REDUCED_INPUT_SIZE = 96;

const atRecipe = (spec: ModelSpec, batches: number): BenchRow => ({
  spec,
  inputSize: spec.defaults.inputSize,
  batchSize: spec.defaults.batchSize,
  batches,
});
const reduced = (row: BenchRow): BenchRow => ({
  ...row,
  inputSize: REDUCED_INPUT_SIZE,
  note: `input ${REDUCED_INPUT_SIZE} (book: ${row.spec.defaults.inputSize})`,
});
/**
 * The default run, in the book's order: one warm-up and three timed passes on each side, each pass at
 * least 128 examples (LeNet's 4,096, as one 128-example pass of LeNet is too short to time). About
 * 5½ minutes on a 2-core machine (5.4 measured, at load ~1).
 */
export const ROWS: readonly BenchRow[] = [
  atRecipe(lenetSpec, 16),
  atRecipe(lenetBNSpec, 16),
  reduced(atRecipe(alexnetSpec, 1)),
  // vgg11Spec builds the book's VGG-11 with a quarter of the channels, as the peer's vgg11 does.
  reduced(atRecipe(vgg11Spec, 1)),
  reduced(atRecipe(ninSpec, 1)),
  atRecipe(googlenetSpec, 1),
  // At the book's batch 256, 96×96: also the memory target (peak resident memory < 4 GB).
  atRecipe(resnet18Spec, 1),
  atRecipe(densenetSpec, 1),
];

export const NETWORK_NAMES: readonly string[] = [...new Set(ROWS.map((r) => r.spec.name))];

/** The default row of a network (the first one with that name). */
export function findRow(name: string): BenchRow {
  const found = ROWS.find((r) => r.spec.name === name);
  if (!found) throw new Error(`unknown network "${name}"; use one of ${NETWORK_NAMES.join(", ")}`);
  return found;
}
