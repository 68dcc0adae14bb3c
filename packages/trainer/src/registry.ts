import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, extname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { type BuildOptions, editDistance, getModelSpec, listModels, type ModelSpec } from "@convnets/model";
import type { LayersModel } from "@tensorflow/tfjs-layers";
import { UsageError } from "./context.js";

/** The scope network packages are published under; installed ones are found by looking in it. */
const SCOPE = "@convnets";
/** The keyword in a network package's package.json that marks it as one (`npm search keywords:convnets-network`). */
export const NETWORK_KEYWORD = "convnets-network";

/**
 * The network packages installed where `cwd`'s project can import them, or where the trainer itself can: every
 * `@convnets/*` package in a `node_modules` on either resolution path whose package.json has the keyword
 * `convnets-network` (each registers its networks with `@convnets/model` when imported). Sorted by name; a package seen from both places is listed once.
 * `fromTrainer: false` looks from `cwd` only (a bundler resolving imports from its project).
 */
export function installedNetworkPackages(cwd: string, options: { fromTrainer?: boolean } = {}): string[] {
  const found = new Set<string>();
  const starts = [resolve(cwd), ...(options.fromTrainer === false ? [] : [dirname(fileURLToPath(import.meta.url))])];
  for (const start of starts) {
    for (let dir = start; ; dir = dirname(dir)) {
      const scope = join(dir, "node_modules", SCOPE);
      for (const entry of existsSync(scope) ? readdirSync(scope) : []) {
        if (found.has(`${SCOPE}/${entry}`)) continue;
        const manifest = join(scope, entry, "package.json");
        if (!existsSync(manifest)) continue;
        try {
          const pkg = JSON.parse(readFileSync(manifest, "utf8")) as { keywords?: unknown };
          if (Array.isArray(pkg.keywords) && pkg.keywords.includes(NETWORK_KEYWORD)) found.add(`${SCOPE}/${entry}`);
        } catch {
          // An unreadable package.json is not a network package.
        }
      }
      if (dirname(dir) === dir) break;
    }
  }
  return [...found].sort();
}

/** A registered network, and where it comes from: the package that registered it, or only the registry. */
export interface RegisteredModel {
  name: string;
  spec: ModelSpec;
  source: ModelSource;
}

/** Packages found installed that could not be imported, with the reason (shown by `convnets list`). */
export interface RegistryProblem {
  package: string;
  problem: string;
}

/**
 * Imports every installed network package (each registers its networks with `@convnets/model`'s registry when
 * imported), then reads the registry, in the book's order: every network registered in this process, each with the
 * package export it came from where a package exports it. Packages that fail to import are returned as problems.
 */
export async function registeredModels(
  cwd: string,
): Promise<{ models: RegisteredModel[]; problems: RegistryProblem[] }> {
  const exported = new Map<ModelSpec, { specifier: string; export: string }>();
  const problems: RegistryProblem[] = [];
  for (const specifier of installedNetworkPackages(cwd)) {
    try {
      const module = await importPackage(specifier, cwd);
      for (const [key, spec] of module ? specExports(module) : []) {
        if (!exported.has(spec)) exported.set(spec, { specifier, export: key });
      }
    } catch (err) {
      problems.push({ package: specifier, problem: (err as Error).message });
    }
  }
  const models = listModels().map((name) => {
    const spec = getModelSpec(name);
    const from = exported.get(spec);
    const source: ModelSource = from ? { kind: "package", ...from } : { kind: "registry", name };
    return { name, spec, source };
  });
  return { models, problems };
}

/** Where a model came from, recorded in a run so `eval`, `predict` and `--resume` find it again. */
export type ModelSource =
  | { kind: "package"; specifier: string; export: string }
  | { kind: "module"; path: string; export: string; builds: "spec" | "function" }
  /** Registered with `@convnets/model` in this process, by no installed package's export. */
  | { kind: "registry"; name: string };

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
  return (
    typeof v === "object" &&
    v !== null &&
    Array.isArray(v.layers) &&
    Array.isArray(v.inputs) &&
    typeof v.apply === "function"
  );
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
 * Finds a model by registry name (`lenet`: any network an installed package registers), by path to a module
 * (`./my-model.js`, `./models.js#small`), or by package (`@someone/their-net#theirSpec`). An unknown name fails with
 * the registered names, a suggestion, and how to add a network.
 */
export async function findModel(arg: string, cwd: string): Promise<FoundModel> {
  if (looksLikePath(arg)) return findInModule(arg, cwd);
  if (arg.startsWith("@")) return findInPackage(arg, cwd);
  const name = arg.toLowerCase();
  const { models, problems } = await registeredModels(cwd);
  const match = models.find((m) => m.name === name);
  if (match) return { name, spec: match.spec, source: match.source };
  const names = models.map((m) => m.name);
  const close = names.filter((c) => editDistance(name, c) <= Math.max(1, Math.floor(c.length / 3)));
  throw new UsageError(
    `unknown model "${arg}".${close.length ? ` Did you mean ${close.map((c) => `"${c}"`).join(" or ")}?` : ""} ` +
      (names.length
        ? `Known models: ${names.join(", ")} (see convnets list). `
        : "No network package is installed here. ") +
      problems.map((p) => `${p.package} is installed but cannot be loaded: ${p.problem}. `).join("") +
      `Networks come in packages (npm install @convnets/resnet); ` +
      `to train your own network, give the path of a module that exports a ModelSpec: convnets train ./my-model.js`,
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
    throw new UsageError(
      `model module ${file} not found (looked for ${path}); give the path of a .js file that exports a ModelSpec`,
    );
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
  if (source.kind === "registry") {
    const match = (await registeredModels(cwd)).models.find((m) => m.name === source.name);
    if (!match)
      throw new UsageError(
        `this run's model ${source.name} is registered by nothing installed here; import or install the package that registers it`,
      );
    return { name: match.name, spec: match.spec, source };
  }
  if (source.kind === "package") {
    const module = await importPackage(source.specifier, cwd);
    if (!module) {
      throw new UsageError(
        `this run's model comes from ${source.specifier}, which is not installed here. Add it: npm install ${source.specifier}`,
      );
    }
    const spec = module[source.export];
    if (!isModelSpec(spec))
      throw new UsageError(`${source.specifier} no longer exports the ModelSpec ${source.export}`);
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
    throw new UsageError(
      `${found.name}: the exported function must return a tf.LayersModel, it returned ${typeof probe}`,
    );
  }
  const [, height, width] = probe.inputs[0]!.shape;
  probe.dispose();
  if (typeof height !== "number" || height !== width) {
    throw new UsageError(
      `${found.name}: the model's input must be square images [size, size, 1], got [${probe.inputs[0]!.shape.slice(1).join(", ")}]`,
    );
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
