import { alexnetSpec } from "@convnets/alexnet";
import type { ModelSpec, Recipe } from "@convnets/core/browser";
import { densenetSpec } from "@convnets/densenet";
import { googlenetSpec } from "@convnets/googlenet";
import { lenetBNSpec, lenetSpec } from "@convnets/lenet";
import { ninSpec } from "@convnets/nin";
import { resnet18Spec } from "@convnets/resnet";
import { vgg11Spec } from "@convnets/vgg";

/** The networks the page offers, in the order of the book. (Importing them registers their custom layers.) */
export const NETWORKS: readonly ModelSpec[] = [
  lenetSpec,
  lenetBNSpec,
  alexnetSpec,
  vgg11Spec,
  ninSpec,
  googlenetSpec,
  resnet18Spec,
  densenetSpec,
];

export function networkByName(name: string): ModelSpec {
  const spec = NETWORKS.find((s) => s.name === name);
  if (!spec) throw new Error(`unknown network "${name}"; the page has ${NETWORKS.map((s) => s.name).join(", ")}`);
  return spec;
}

/** What the page trains with: a recipe plus how much of the data. */
export interface PageRecipe extends Recipe {
  trainCount: number;
  testCount: number;
  seed: number;
}
