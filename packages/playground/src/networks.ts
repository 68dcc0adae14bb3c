// Every network package the page depends on, imported by vite.config.ts's `convnetsNetworks` plugin: each registers
// its networks (and its custom layers) with @convnets/model's registry.
import "virtual:convnets-networks";
import type { Recipe } from "@convnets/core/browser";
import { getModelSpec, listModels, type ModelSpec } from "@convnets/model";

/** The networks the page offers: every registered one, in the book's order. */
export function networks(): ModelSpec[] {
  return listModels().map(getModelSpec);
}

export function networkByName(name: string): ModelSpec {
  const spec = networks().find((s) => s.name === name);
  if (!spec) throw new Error(`unknown network "${name}"; the page has ${listModels().join(", ")}`);
  return spec;
}

/** What the page trains with: a recipe plus how much of the data. */
export interface PageRecipe extends Recipe {
  trainCount: number;
  testCount: number;
  seed: number;
}
