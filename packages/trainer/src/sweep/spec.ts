import { readFile } from "node:fs/promises";
import { basename, extname, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { UsageError } from "../context.js";
import { intOption, positiveOption } from "../options.js";
import { findModel } from "../registry.js";

/**
 * One run of a sweep: a network and its whole recipe. The recipe is complete (the network's defaults
 * filled in), so the same run written two ways gets the same id, hence the same job and run directory.
 */
export interface SweepRun {
  /** `lenet-e10-lr0.9-b256-in28-all-s0`: names the queue job and the run directory. */
  id: string;
  /** The sweep it came from (its spec's `name`). */
  sweep: string;
  /** As the spec names it: a registry name, or a module path as the workers will see it. */
  network: string;
  epochs: number;
  lr: number;
  batchSize: number;
  inputSize: number;
  /** The first N training and test images; undefined for all of them. */
  limit?: number;
  seed: number;
}

export interface Sweep {
  name: string;
  /** Where the spec was read from. */
  path: string;
  runs: SweepRun[];
}

/** The recipe keys a spec may set, named as `convnets train`'s options are. */
const RECIPE_KEYS = ["epochs", "lr", "batch-size", "input-size", "limit"] as const;
type RecipeKey = (typeof RECIPE_KEYS)[number];
const TOP_KEYS = ["name", "networks", "seeds", "recipe", "runs"] as const;
const RUN_KEYS = ["network", "seed", ...RECIPE_KEYS] as const;

const HINTS: Record<RecipeKey | "seed", string> = {
  epochs: "how many passes over the training set, e.g. 10",
  lr: "the SGD learning rate, e.g. 0.9 for lenet",
  "batch-size": "examples per SGD step, e.g. 256",
  "input-size": "the side images are resized to, e.g. 28",
  limit: "how many training and test images to use, e.g. 512",
  seed: "any whole number; the same seed gives the same run",
};

type Overrides = Partial<Record<RecipeKey | "seed", number>>;

/** Reads a spec file (`.json`, `.yaml` or `.yml`), checks every entry and expands it into runs. */
export async function readSweep(specArg: string, cwd: string): Promise<Sweep> {
  const path = resolve(cwd, specArg);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    throw new UsageError(
      `sweep spec ${specArg} cannot be read (no such file?); give a .json or .yaml file, see convnets sweep --help`,
    );
  }
  let value: unknown;
  try {
    value = extname(path) === ".json" ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new UsageError(
      `${specArg}: not valid ${extname(path) === ".json" ? "JSON" : "YAML"}: ${(err as Error).message.split("\n")[0]}`,
    );
  }
  const defaultName = basename(path, extname(path));
  return { path, ...(await expandSpec(value, specArg, cwd, defaultName)) };
}

/**
 * A spec: `networks × seeds × recipe` (a recipe value may be a list: lists are crossed) and/or an explicit
 * `runs` list. Every network is looked up and every value checked before anything is enqueued or trained;
 * errors name the entry (`runs[2].lr`).
 */
export async function expandSpec(
  value: unknown,
  where: string,
  cwd: string,
  defaultName: string,
): Promise<{ name: string; runs: SweepRun[] }> {
  const spec = asObject(value, where, "a spec: { networks, seeds, recipe, runs }");
  unknownKeys(spec, TOP_KEYS, where);
  const name = spec.name === undefined ? defaultName : String(spec.name);
  if (!/^[A-Za-z0-9._-]+$/.test(name)) {
    throw new UsageError(`${where}: name "${name}": use letters, digits, dot, dash and underscore only`);
  }
  const wanted: { network: string; overrides: Overrides; entry: string }[] = [];

  if (spec.networks !== undefined || spec.seeds !== undefined || spec.recipe !== undefined) {
    const networks = listOf(spec.networks, `${where}: networks`, "network names, e.g. [lenet, lenet-bn]").map((n, i) =>
      networkName(n, `${where}: networks[${i}]`),
    );
    const seeds = spec.seeds === undefined ? [0] : listOf(spec.seeds, `${where}: seeds`, "seeds, e.g. [0, 1, 2]");
    const axes: [RecipeKey | "seed", unknown[]][] = [["seed", seeds]];
    const recipe =
      spec.recipe === undefined
        ? {}
        : asObject(spec.recipe, `${where}: recipe`, "recipe overrides, e.g. { epochs: 10, lr: [0.3, 0.9] }");
    unknownKeys(recipe, RECIPE_KEYS, `${where}: recipe`);
    for (const key of RECIPE_KEYS) {
      if (recipe[key] === undefined) continue;
      const values = Array.isArray(recipe[key])
        ? listOf(recipe[key], `${where}: recipe.${key}`, "values")
        : [recipe[key]];
      axes.push([key, values]);
    }
    networks.forEach((network, i) => {
      for (const combination of cross(axes)) {
        const values = Object.entries(combination).map(([k, v]) => `${k} ${v}`);
        const entry = `${where}: networks[${i}] (${network} with ${values.join(", ")})`;
        wanted.push({ network, overrides: checkValues(combination, `${where}: recipe`), entry });
      }
    });
  }
  if (spec.runs !== undefined) {
    listOf(spec.runs, `${where}: runs`, "runs, e.g. [{ network: alexnet, lr: 0.01 }]").forEach((item, i) => {
      const at = `${where}: runs[${i}]`;
      const run = asObject(item, at, "a run: { network, seed, epochs, lr, batch-size, input-size, limit }");
      unknownKeys(run, RUN_KEYS, at);
      const { network, ...values } = run;
      const name = networkName(network, `${at}.network`);
      // A list is crossed here too: { network: nin, seed: [0, 1, 2, 3], lr: 0.025 } is four runs.
      const axes = Object.entries(values).map(([k, v]): [string, unknown[]] => [
        k,
        Array.isArray(v) ? listOf(v, `${at}.${k}`, "values") : [v],
      ]);
      for (const combination of cross(axes))
        wanted.push({ network: name, overrides: checkValues(combination, at), entry: at });
    });
  }
  if (wanted.length === 0) {
    throw new UsageError(
      `${where}: the spec names no runs; give networks (and seeds, recipe) for a grid, or a runs list`,
    );
  }

  const runs: SweepRun[] = [];
  const seen = new Set<string>();
  for (const { network, overrides, entry } of wanted) {
    const run = await completeRun(network, overrides, name, cwd, entry);
    if (seen.has(run.id)) continue; // the grid and the list may name the same run: it runs once
    seen.add(run.id);
    runs.push(run);
  }
  return { name, runs };
}

/** Fills in the network's recipe and checks the network exists and accepts the input size. */
async function completeRun(
  network: string,
  o: Overrides,
  sweep: string,
  cwd: string,
  entry: string,
): Promise<SweepRun> {
  let found: Awaited<ReturnType<typeof findModel>>;
  try {
    found = await findModel(network, cwd);
  } catch (err) {
    throw new UsageError(`${entry}: ${(err as Error).message}`);
  }
  const defaults = found.spec?.defaults;
  const inputSize = o["input-size"] ?? defaults?.inputSize;
  if (found.spec && inputSize !== undefined && inputSize < found.spec.minInputSize) {
    throw new UsageError(
      `${entry}: input-size ${inputSize}: ${found.spec.name} needs at least ${found.spec.minInputSize}`,
    );
  }
  if (inputSize === undefined) {
    throw new UsageError(`${entry}: ${network} is a builder function without a recipe; give its input-size`);
  }
  const run = {
    sweep,
    network,
    epochs: o.epochs ?? defaults?.epochs ?? 10,
    lr: o.lr ?? defaults?.lr ?? 0.1,
    batchSize: o["batch-size"] ?? defaults?.batchSize ?? 256,
    inputSize,
    limit: o.limit,
    seed: o.seed ?? 0,
  };
  return { id: runId(found.name, run), ...run };
}

/** The job id and run directory name: the network and its whole recipe, readable. */
export function runId(name: string, r: Omit<SweepRun, "id" | "sweep" | "network">): string {
  const safe = name.replace(/[^A-Za-z0-9._-]+/g, "_");
  return `${safe}-e${r.epochs}-lr${r.lr}-b${r.batchSize}-in${r.inputSize}-${r.limit ? `n${r.limit}` : "all"}-s${r.seed}`;
}

/** The `convnets train` options that train this run (the run directory and engine are added by the caller). */
export function trainArgs(run: SweepRun): string[] {
  return [
    run.network,
    "--epochs",
    String(run.epochs),
    "--lr",
    String(run.lr),
    "--batch-size",
    String(run.batchSize),
    "--input-size",
    String(run.inputSize),
    ...(run.limit ? ["--limit", String(run.limit)] : []),
    "--seed",
    String(run.seed),
  ];
}

function checkValues(values: Record<string, unknown>, at: string): Overrides {
  const out: Overrides = {};
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined) continue;
    const k = key as RecipeKey | "seed";
    const check = (v: unknown) => {
      try {
        if (typeof v !== "number" && typeof v !== "string")
          throw new UsageError(`--${k} ${JSON.stringify(v)}: must be a number (${HINTS[k]})`);
        return k === "lr" ? positiveOption(k, v, HINTS[k])! : intOption(k, v, k === "seed" ? 0 : 1, HINTS[k])!;
      } catch (err) {
        throw new UsageError(`${at}.${k}: ${(err as Error).message.replace(/^--\S+ /, "")}`);
      }
    };
    out[k] = check(value);
  }
  return out;
}

function* cross(axes: [string, unknown[]][]): Generator<Record<string, unknown>> {
  const [first, ...rest] = axes;
  if (!first) {
    yield {};
    return;
  }
  for (const value of first[1]) for (const tail of cross(rest)) yield { [first[0]]: value, ...tail };
}

function asObject(value: unknown, at: string, expected: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new UsageError(`${at}: expected ${expected}, got ${JSON.stringify(value)}`);
  }
  return value as Record<string, unknown>;
}

function listOf(value: unknown, at: string, expected: string): unknown[] {
  if (value === undefined) throw new UsageError(`${at} is missing: give a list of ${expected}`);
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0)
    throw new UsageError(`${at} is an empty list: the grid would have no runs; give at least one of ${expected}`);
  return list;
}

function networkName(value: unknown, at: string): string {
  if (typeof value !== "string" || value.trim() === "") {
    throw new UsageError(`${at}: expected a network name (convnets list shows them), got ${JSON.stringify(value)}`);
  }
  return value.trim();
}

function unknownKeys(object: Record<string, unknown>, known: readonly string[], at: string): void {
  for (const key of Object.keys(object)) {
    if (!known.includes(key)) throw new UsageError(`${at}: unknown key "${key}"; the keys are ${known.join(", ")}`);
  }
}
