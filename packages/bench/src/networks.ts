import { alexnetSpec } from "@convnets/alexnet";
import type { ModelSpec } from "@convnets/core";
import { densenetSpec } from "@convnets/densenet";
import { googlenetSpec } from "@convnets/googlenet";
import { lenetBNSpec, lenetSpec } from "@convnets/lenet";
import { ninSpec } from "@convnets/nin";
import { resnet18Spec } from "@convnets/resnet";
import { vgg11Spec } from "@convnets/vgg";

/** One row of the comparison: a network, its PyTorch twin, and what it is measured at. */
export interface BenchRow {
  spec: ModelSpec;
  /** The same network's name in torch_reference.py. */
  torchName: string;
  inputSize: number;
  batchSize: number;
  /** Batches per timed pass. */
  batches: number;
  /** Timed passes for this row when it differs from --runs. */
  runs?: number;
  /** Why this row differs from the seed's recipe, if it does. */
  note?: string;
}

/** The networks the seed trains at 224×224 are measured at this side (AlexNet needs ≥ 65, NiN ≥ 67). */
export const REDUCED_INPUT_SIZE = 96;

const seed = (spec: ModelSpec, torchName: string, batches: number): BenchRow => ({
  spec,
  torchName,
  inputSize: spec.defaults.inputSize,
  batchSize: spec.defaults.batchSize,
  batches,
});
const reduced = (row: BenchRow): BenchRow => ({
  ...row,
  inputSize: REDUCED_INPUT_SIZE,
  note: `input ${REDUCED_INPUT_SIZE} (seed: ${row.spec.defaults.inputSize})`,
});
/**
 * The default run, in the seed's order: one warm-up and three timed passes on each side, each pass at
 * least 128 examples (LeNet's 4,096, as one 128-example pass of LeNet is too short to time). About
 * 5½ minutes on a 2-core machine (5.4 measured, at load ~1).
 */
export const ROWS: readonly BenchRow[] = [
  seed(lenetSpec, "lenet", 16),
  seed(lenetBNSpec, "lenet_bn", 16),
  reduced(seed(alexnetSpec, "alexnet", 1)),
  // vgg11Spec builds the book's VGG-11 with a quarter of the channels: torch_reference's vgg_small.
  reduced(seed(vgg11Spec, "vgg_small", 1)),
  reduced(seed(ninSpec, "nin", 1)),
  seed(googlenetSpec, "googlenet", 1),
  // At the seed's batch 256, 96×96: also the memory target (peak resident memory < 4 GB).
  seed(resnet18Spec, "resnet", 1),
  seed(densenetSpec, "densenet", 1),
];

export const NETWORK_NAMES: readonly string[] = [...new Set(ROWS.map((r) => r.spec.name))];

/** The default row of a network (the first one with that name). */
export function findRow(name: string): BenchRow {
  const found = ROWS.find((r) => r.spec.name === name);
  if (!found) throw new Error(`unknown network "${name}"; use one of ${NETWORK_NAMES.join(", ")}`);
  return found;
}
