import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, extname, isAbsolute, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { BuildOptions, ModelSpec } from "@convnets/core";
import type { LayersModel } from "@tensorflow/tfjs-layers";
import { UsageError } from "./context.js";

/** The networks of this project, by name, and the package each one lives in. */
export const KNOWN_MODELS: Readonly<Record<string, string>> = {
  lenet: "@convnets/lenet",
  "lenet-bn": "@convnets/lenet",
  alexnet: "@convnets/alexnet",
  vgg11: "@convnets/vgg",
  nin: "@convnets/nin",
  googlenet: "@convnets/googlenet",
  resnet18: "@convnets/resnet",
  resnet34: "@convnets/resnet",
  densenet: "@convnets/densenet",
};

/** Packages in the order `convnets list` shows them (the book's order). */
export const KNOWN_PACKAGES: readonly string[] = [...new Set(Object.values(KNOWN_MODELS))];

/** Where a model came from, recorded in a run so `eval`, `predict` and `--resume` find it again. */
export type ModelSource =
  | { kind: "package"; specifier: string; export: string }
  | { kind: "module"; path: string; export: string; builds: "spec" | "function" };

/** A model found by name or path. A module that exports a plain builder function gets its spec later. */
export interface FoundModel {
  name: string;
  source: ModelSource;
  /** Present for ModelSpecs; undefined for a builder function until `specOf` probes it. */
  spec?: ModelSpec;
  builder?: (options?: BuildOptions) => LayersModel;
}

/** The defaults a bare builder function trains with (it carries no recipe of its own). */
export const FUNCTION_DEFAULTS = { lr: 0.1, batchSize: 256, epochs: 10 } as const;

/** Duck-typed: a ModelSpec from another copy of @convnets/core is still a ModelSpec. */
export function isModelSpec(value: unknown): value is ModelSpec {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Partial<ModelSpec>;
  const d = v.defaults as Partial<ModelSpec["defaults"]> | undefined;
  return (
    typeof v.name === "string" &&
    typeof v.build === "function" &&
    typeof d === "object" &&
    d !== null &&
    typeof d.inputSize === "number" &&
    typeof d.lr === "number" &&
    typeof d.batchSize === "number" &&
    typeof d.epochs === "number"
  );
}

function isLayersModel(value: unknown): value is LayersModel {
  const v = value as Partial<LayersModel> | undefined;
  return typeof v === "object" && v !== null && Array.isArray(v.layers) && Array.isArray(v.inputs) && typeof v.apply === "function";
}

/** Resolves a package from the user's project first, then from the trainer's own install. */
function resolvePackage(specifier: string, cwd: string): string | undefined {
  for (const from of [join(cwd, "noop.js"), import.meta.url]) {
    try {
      return createRequire(from).resolve(specifier);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== "MODULE_NOT_FOUND" && code !== "ERR_PACKAGE_PATH_NOT_EXPORTED") throw err;
    }
  }
  return undefined;
}

async function importFile(path: string): Promise<Record<string, unknown>> {
  return (await import(pathToFileURL(path).href)) as Record<string, unknown>;
}

/** Every export that is a ModelSpec, as [export name, spec]. */
export function specExports(module: Record<string, unknown>): [string, ModelSpec][] {
  const found: [string, ModelSpec][] = [];
  for (const [key, value] of Object.entries(module)) {
    if (isModelSpec(value) && !found.some(([, s]) => s === value)) found.push([key, value]);
  }
  return found;
}

/** Loaded packages, so `list` and a name lookup import each package once. */
const packageCache = new Map<string, Record<string, unknown> | undefined>();

/** The package's module, or undefined when it is not installed. */
export async function importPackage(specifier: string, cwd: string): Promise<Record<string, unknown> | undefined> {
  const key = `${cwd}\0${specifier}`;
  if (packageCache.has(key)) return packageCache.get(key);
  const path = resolvePackage(specifier, cwd);
  if (!path) {
    // Installed (its package.json is there) but its entry file is not: an unbuilt workspace package.
    const manifest = resolvePackage(`${specifier}/package.json`, cwd);
    if (manifest) {
      throw new UsageError(
        `${specifier} is installed (${dirname(manifest)}) but its entry file is missing; build it (pnpm build) or reinstall it`,
      );
    }
  }
  const module = path ? await importFile(path) : undefined;
  packageCache.set(key, module);
  return module;
}

/** Closest known names by edit distance, for "did you mean". */
function suggestions(name: string, candidates: string[]): string[] {
  const distance = (a: string, b: string) => {
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
  };
  return candidates.filter((c) => distance(name.toLowerCase(), c) <= Math.max(1, Math.floor(c.length / 3)));
}

/** A path to the user's own module rather than a registry name. */
export function looksLikePath(arg: string): boolean {
  return (
    arg.startsWith(".") ||
    isAbsolute(arg) ||
    /\.(m?js|cjs|m?ts)(#.*)?$/.test(arg) ||
    (arg.includes("/") && !arg.startsWith("@"))
  );
}

/**
 * Finds a model by registry name (`lenet`), by path to a module (`./my-model.js`, `./models.js#small`),
 * or by package (`@someone/their-net#theirSpec`). Bad names fail with the known names, a suggestion,
 * and for a known but uninstalled network the package to add.
 */
export async function findModel(
  arg: string,
  cwd: string,
  known: Readonly<Record<string, string>> = KNOWN_MODELS,
): Promise<FoundModel> {
  if (looksLikePath(arg)) return findInModule(arg, cwd);
  if (arg.startsWith("@")) return findInPackage(arg, cwd);
  const name = arg.toLowerCase();
  const specifier = known[name];
  if (specifier) {
    const module = await importPackage(specifier, cwd);
    if (!module) {
      throw new UsageError(
        `model "${name}" is in the package ${specifier}, which is not installed here. Add it: npm install ${specifier}`,
      );
    }
    const match = specExports(module).find(([, s]) => s.name === name);
    if (!match) {
      const has = specExports(module).map(([, s]) => s.name);
      throw new UsageError(
        `${specifier} is installed but exports no ModelSpec named "${name}" (it exports: ${has.join(", ") || "none"}). ` +
          `Update it: npm install ${specifier}@latest`,
      );
    }
    return { name, spec: match[1], source: { kind: "package", specifier, export: match[0] } };
  }
  // Not a registry name: an installed package may still export it (vgg16 from @convnets/vgg).
  for (const pkg of new Set(Object.values(known))) {
    // A package that cannot be loaded is reported when asked for by name, not while looking elsewhere.
    const module = await importPackage(pkg, cwd).catch(() => undefined);
    const match = module && specExports(module).find(([, s]) => s.name === name);
    if (match) return { name, spec: match[1], source: { kind: "package", specifier: pkg, export: match[0] } };
  }
  const names = Object.keys(known);
  const close = suggestions(name, names);
  throw new UsageError(
    `unknown model "${arg}".${close.length ? ` Did you mean ${close.map((c) => `"${c}"`).join(" or ")}?` : ""} ` +
      `Known models: ${names.join(", ")} (see convnets list). ` +
      `To train your own network, give the path of a module that exports a ModelSpec: convnets train ./my-model.js`,
  );
}

function splitExport(arg: string): [string, string | undefined] {
  const hash = arg.lastIndexOf("#");
  return hash > 0 ? [arg.slice(0, hash), arg.slice(hash + 1)] : [arg, undefined];
}

async function findInPackage(arg: string, cwd: string): Promise<FoundModel> {
  const [specifier, wanted] = splitExport(arg);
  const module = await importPackage(specifier, cwd);
  if (!module) throw new UsageError(`package ${specifier} is not installed here. Add it: npm install ${specifier}`);
  const specs = specExports(module);
  const match = pickSpec(specs, wanted, specifier);
  return { name: match[1].name, spec: match[1], source: { kind: "package", specifier, export: match[0] } };
}

function pickSpec(specs: [string, ModelSpec][], wanted: string | undefined, where: string): [string, ModelSpec] {
  if (wanted) {
    const match = specs.find(([key, s]) => key === wanted || s.name === wanted);
    if (!match) {
      throw new UsageError(
        `${where} has no ModelSpec export named "${wanted}" (ModelSpecs: ${specs.map(([k]) => k).join(", ") || "none"})`,
      );
    }
    return match;
  }
  if (specs.length === 1) return specs[0]!;
  const byDefault = specs.find(([key]) => key === "default");
  if (byDefault) return byDefault;
  throw new UsageError(
    `${where} exports ${specs.length} ModelSpecs (${specs.map(([k]) => k).join(", ")}); pick one with #name, e.g. ${where}#${specs[0]![0]}`,
  );
}

async function findInModule(arg: string, cwd: string): Promise<FoundModel> {
  const [file, wanted] = splitExport(arg);
  const path = resolve(cwd, file);
  if (!existsSync(path)) {
    throw new UsageError(`model module ${file} not found (looked for ${path}); give the path of a .js file that exports a ModelSpec`);
  }
  let module: Record<string, unknown>;
  try {
    module = await importFile(path);
  } catch (err) {
    throw new UsageError(`cannot import ${file}: ${(err as Error).message}`);
  }
  const specs = specExports(module);
  if (specs.length > 0) {
    const [key, spec] = pickSpec(specs, wanted, file);
    return { name: spec.name, spec, source: { kind: "module", path, export: key, builds: "spec" } };
  }
  const functions = Object.entries(module).filter(([, v]) => typeof v === "function") as [
    string,
    (options?: BuildOptions) => LayersModel,
  ][];
  const chosen = wanted
    ? functions.find(([key]) => key === wanted)
    : (functions.find(([key]) => key === "default") ?? (functions.length === 1 ? functions[0] : undefined));
  if (!chosen) {
    throw new UsageError(
      functions.length > 1 && !wanted
        ? `${file} exports several functions (${functions.map(([k]) => k).join(", ")}); pick the model builder with #name, e.g. ${file}#${functions[0]![0]}`
        : `${file} exports no ModelSpec (an object with name, defaults and build) and no function returning a tf.LayersModel${wanted ? ` named "${wanted}"` : ""}`,
    );
  }
  const name = basename(path, extname(path));
  return {
    name,
    builder: chosen[1],
    source: { kind: "module", path, export: chosen[0], builds: "function" },
  };
}

/** Finds the model a run recorded. */
export async function findSource(source: ModelSource, cwd: string): Promise<FoundModel> {
  if (source.kind === "package") {
    const module = await importPackage(source.specifier, cwd);
    if (!module) {
      throw new UsageError(`this run's model comes from ${source.specifier}, which is not installed here. Add it: npm install ${source.specifier}`);
    }
    const spec = module[source.export];
    if (!isModelSpec(spec)) throw new UsageError(`${source.specifier} no longer exports the ModelSpec ${source.export}`);
    return { name: spec.name, spec, source };
  }
  if (!existsSync(source.path)) throw new UsageError(`this run's model module ${source.path} no longer exists`);
  return findInModule(`${source.path}#${source.export}`, "/");
}

/**
 * The spec of a found model. A builder function is called once (the engine must be set up) to read
 * its input size; it trains with FUNCTION_DEFAULTS unless options say otherwise.
 */
export function specOf(found: FoundModel): ModelSpec {
  if (found.spec) return found.spec;
  const builder = found.builder!;
  const probe = builder();
  if (!isLayersModel(probe)) {
    throw new UsageError(`${found.name}: the exported function must return a tf.LayersModel, it returned ${typeof probe}`);
  }
  const [, height, width] = probe.inputs[0]!.shape;
  probe.dispose();
  if (typeof height !== "number" || height !== width) {
    throw new UsageError(`${found.name}: the model's input must be square images [size, size, 1], got [${probe.inputs[0]!.shape.slice(1).join(", ")}]`);
  }
  return {
    name: found.name,
    title: found.name,
    paper: "your own module",
    defaults: { inputSize: height, ...FUNCTION_DEFAULTS },
    minInputSize: height,
    build(options?: BuildOptions) {
      const model = builder(options);
      const built = model.inputs[0]!.shape[1];
      const asked = options?.inputShape?.[0];
      if (asked !== undefined && built !== asked) {
        model.dispose();
        throw new UsageError(
          `${found.name}: the function built a model for ${built}×${built} input although ${asked}×${asked} was asked; ` +
            `it ignores options.inputShape, so leave out --input-size (or make it use options.inputShape)`,
        );
      }
      return model;
    },
  };
}
