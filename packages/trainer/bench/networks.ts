import type { ModelSpec } from "@convnets/model";
import { registeredModels } from "../src/registry.js";

/** One row of the comparison: a network, its PyTorch twin, and what it is measured at. */
export interface BenchRow {
  spec: ModelSpec;
  /** The same network's name in torch_reference.py; undefined where it has no PyTorch twin (timed on our side only). */
  torchName?: string;
  inputSize: number;
  batchSize: number;
  /** Batches per timed pass. */
  batches: number;
  /** Timed passes for this row when it differs from --runs. */
  runs?: number;
  /** Why this row differs from the seed's recipe, if it does. */
  note?: string;
}

/** The networks the book trains at 224×224 are measured at this side (AlexNet needs ≥ 65, NiN ≥ 67). */
export const REDUCED_INPUT_SIZE = 96;

/**
 * What the benchmark knows of a network beyond its spec: its twin in torch_reference.py, and the batches a timed
 * pass needs to be at least 128 examples (LeNet's 4,096, as one 128-example pass of LeNet is too short to time).
 * A registered network not named here is benchmarked on our side, one batch per pass, at its recipe.
 */
const TORCH_TWINS: Readonly<Record<string, { torchName: string; batches: number }>> = {
  lenet: { torchName: "lenet", batches: 16 },
  "lenet-bn": { torchName: "lenet_bn", batches: 16 },
  alexnet: { torchName: "alexnet", batches: 1 },
  // vgg11Spec builds the book's VGG-11 with a quarter of the channels: torch_reference's vgg_small.
  vgg11: { torchName: "vgg_small", batches: 1 },
  nin: { torchName: "nin", batches: 1 },
  googlenet: { torchName: "googlenet", batches: 1 },
  // At the book's batch 256, 96×96: also the memory target (peak resident memory < 4 GB).
  resnet18: { torchName: "resnet", batches: 1 },
  densenet: { torchName: "densenet", batches: 1 },
};

function row(spec: ModelSpec): BenchRow {
  const twin = TORCH_TWINS[spec.name];
  const atRecipe: BenchRow = {
    spec,
    torchName: twin?.torchName,
    inputSize: spec.defaults.inputSize,
    batchSize: spec.defaults.batchSize,
    batches: twin?.batches ?? 1,
  };
  if (spec.defaults.inputSize <= REDUCED_INPUT_SIZE) return atRecipe;
  return { ...atRecipe, inputSize: REDUCED_INPUT_SIZE, note: `input ${REDUCED_INPUT_SIZE} (recipe: ${spec.defaults.inputSize})` };
}

/**
 * One row per registered network (every installed network package is imported first: each registers its networks),
 * in the book's order, at its recipe (the networks trained at 224×224 at {@link REDUCED_INPUT_SIZE}). The default
 * run is the rows with a PyTorch twin: one warm-up and three timed passes on each side. About 5½ minutes on a
 * 2-core machine (5.4 measured, at load ~1).
 */
export const ROWS: readonly BenchRow[] = await benchRows(process.cwd());

/** The rows of the networks registered by the network packages installed for `cwd`'s project (see ROWS). */
export async function benchRows(cwd: string): Promise<BenchRow[]> {
  return (await registeredModels(cwd)).models.map((m) => row(m.spec));
}

/** The rows the default run measures: those with a PyTorch twin. */
export const DEFAULT_ROWS: readonly BenchRow[] = ROWS.filter((r) => r.torchName !== undefined);

export const NETWORK_NAMES: readonly string[] = [...new Set(ROWS.map((r) => r.spec.name))];

/** The default row of a network (the first one with that name). */
export function findRow(name: string): BenchRow {
  const found = ROWS.find((r) => r.spec.name === name);
  if (!found) throw new Error(`unknown network "${name}"; use one of ${NETWORK_NAMES.join(", ")}`);
  return found;
}
