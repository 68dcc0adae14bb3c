import type { ModelSpec } from "@convnets/core";
import type { LayersModel } from "@tensorflow/tfjs-layers";
import { UsageError } from "./context.js";

const RECIPE_FIELDS: [keyof ModelSpec["defaults"], "int" | "positive", string][] = [
  ["inputSize", "int", "the side images are resized to, e.g. 28"],
  ["lr", "positive", "the SGD learning rate, e.g. 0.1"],
  ["batchSize", "int", "examples per SGD step, e.g. 256"],
  ["epochs", "int", "passes over the training set, e.g. 10"],
];

/**
 * Checks a ModelSpec before anything is written: a name, and a recipe of usable numbers (a NaN, negative or
 * fractional default would otherwise fail deep inside training). `where` names the spec's module or package.
 */
export function checkSpec(spec: ModelSpec, where: string): void {
  const fail = (field: string, value: unknown, want: string) => {
    throw new UsageError(`${where}: the ModelSpec's ${field} is ${describe(value)}; it must be ${want}`);
  };
  if (typeof spec.name !== "string" || !/^[\w.-]+$/.test(spec.name)) {
    fail(
      "name",
      spec.name,
      "a name of letters, digits, dots, dashes or underscores, e.g. small-cnn (it names the run directory)",
    );
  }
  for (const [field, kind, hint] of RECIPE_FIELDS) {
    const value = spec.defaults[field];
    const ok = kind === "int" ? Number.isInteger(value) && value >= 1 : Number.isFinite(value) && value > 0;
    if (!ok)
      fail(`defaults.${field}`, value, `${kind === "int" ? "a whole number ≥ 1" : "a positive number"} (${hint})`);
  }
  const min = spec.minInputSize as unknown;
  if (min !== undefined && !(Number.isInteger(min) && (min as number) >= 1)) {
    fail("minInputSize", min, "a whole number ≥ 1 (the smallest input side the network accepts), or left out");
  }
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "missing";
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "function") return "a function";
  if (typeof value === "object") return Array.isArray(value) ? "an array" : "an object";
  return String(value);
}

/** Whether a value is a tf.LayersModel (duck-typed: it may come from another copy of tfjs-layers). */
export function isLayersModel(value: unknown): value is LayersModel {
  const v = value as Partial<LayersModel> | undefined;
  return (
    typeof v === "object" &&
    v !== null &&
    Array.isArray(v.layers) &&
    Array.isArray(v.inputs) &&
    typeof v.apply === "function"
  );
}

/** Checks what `build()` returned: a tf.LayersModel taking `[size, size, 1]` images. */
export function checkBuilt(value: unknown, name: string, inputSize: number): LayersModel {
  if (!isLayersModel(value)) {
    throw new UsageError(
      `${name}: build() returned ${describe(value)}; it must return a tf.LayersModel (e.g. tf.sequential({...}))`,
    );
  }
  const shape = value.inputs[0]?.shape ?? [];
  if (shape.length !== 4 || shape[1] !== inputSize || shape[2] !== inputSize || shape[3] !== 1) {
    value.dispose();
    throw new UsageError(
      `${name}: build() returned a model whose input is [${shape.slice(1).join(", ")}]; it was asked for [${inputSize}, ${inputSize}, 1] ` +
        "(use options.inputShape in build)",
    );
  }
  return value;
}
