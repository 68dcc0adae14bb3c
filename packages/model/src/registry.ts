import type { LayersModel } from "@tensorflow/tfjs-layers";
import type { BuildOptions, ModelSpec } from "./spec.js";

/**
 * The registry of networks, as timm's `register_model` / `list_models` / `create_model`: each network package
 * registers every variant it exports when it is imported, and the trainer, the playground and the benchmarks
 * read it. Kept on `globalThis` under a registered symbol, so that two copies of this package in one install (a
 * network built against one, a trainer against another) still share one registry.
 */
const REGISTRY = Symbol.for("@convnets/model registry");

interface Registry {
  specs: Map<string, ModelSpec>;
}

function registry(): Registry {
  const holder = globalThis as { [REGISTRY]?: Registry };
  holder[REGISTRY] ??= { specs: new Map() };
  return holder[REGISTRY];
}

/** Registry names: lowercase letters and digits, words joined by single dashes (`lenet-bn`, `resnet18`). */
const NAME = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/**
 * Adds a network to the registry and returns its spec. Registering the same spec again does nothing (a package
 * imported twice); another spec under a taken name is refused, naming both.
 */
export function registerModel<O extends BuildOptions>(spec: ModelSpec<O>): ModelSpec<O> {
  if (!NAME.test(spec.name)) {
    throw new Error(
      `registerModel: "${spec.name}" is not a registry name; use lowercase letters and digits joined by dashes, like "resnet18" or "lenet-bn"`,
    );
  }
  const { specs } = registry();
  const taken = specs.get(spec.name);
  if (taken && taken !== (spec as ModelSpec)) {
    // The same network from a second copy of its package (same title and paper) replaces nothing.
    if (taken.title === spec.title && taken.paper === spec.paper) return spec;
    throw new Error(
      `registerModel: the name "${spec.name}" is taken by ${taken.title} (${taken.paper}); give ${spec.title} another name`,
    );
  }
  specs.set(spec.name, spec as ModelSpec);
  return spec;
}

/** Orders d2l section numbers (`6.6` before `7.1` before `7.10`); networks without one come last. */
function bySection(a: ModelSpec, b: ModelSpec): number {
  const key = (s: ModelSpec) => (s.d2lSection ?? "").split(".").map(Number);
  const [x, y] = [key(a), key(b)];
  if (!a.d2lSection || !b.d2lSection) return Number(!a.d2lSection) - Number(!b.d2lSection);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * The registered networks' names, in the book's order (by d2l section, then as registered), those without a
 * section last. `filter` keeps names containing it, or matching it with `*` wildcards (`resnet*`).
 */
export function listModels(filter?: string): string[] {
  const specs = [...registry().specs.values()].sort(bySection);
  const names = specs.map((s) => s.name);
  if (!filter) return names;
  const pattern = new RegExp(
    filter.includes("*") ? `^${filter.split("*").map(escapeRegExp).join(".*")}$` : escapeRegExp(filter),
  );
  return names.filter((n) => pattern.test(n));
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** The registered spec of `name`, or undefined. */
export function findModelSpec(name: string): ModelSpec | undefined {
  return registry().specs.get(name);
}

/** The registered spec of `name`; an unknown name is refused with the known ones and the closest. */
export function getModelSpec(name: string): ModelSpec {
  const spec = findModelSpec(name);
  if (spec) return spec;
  const known = listModels();
  const close = known.filter((k) => editDistance(name.toLowerCase(), k) <= Math.max(1, Math.floor(k.length / 3)));
  throw new Error(
    `Unknown model "${name}".${close.length ? ` Did you mean ${close.map((c) => `"${c}"`).join(" or ")}?` : ""} ` +
      (known.length
        ? `Registered: ${known.join(", ")}.`
        : 'None is registered: import a network package first (import "@convnets/resnet").'),
  );
}

/** Builds a fresh, untrained `name` with `options` (timm's `create_model`). */
export function createModel<O extends BuildOptions = BuildOptions>(name: string, options?: O): LayersModel {
  return getModelSpec(name).build(options);
}

/** Removes a network from the registry (tests, or a page that offers a network for a while). Returns whether it was there. */
export function unregisterModel(name: string): boolean {
  return registry().specs.delete(name);
}

/** Levenshtein distance, for "did you mean". */
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}
