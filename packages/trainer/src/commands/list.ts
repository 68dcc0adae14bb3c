import type { ModelSpec } from "@convnets/core";
import { startEngine } from "../common.js";
import { type CliContext, EXIT, println, UsageError } from "../context.js";
import { bookCitation, bookSection } from "../book.js";
import { formatTable } from "../format.js";
import { parseCommandArgs } from "../options.js";
import { importPackage, KNOWN_MODELS, KNOWN_PACKAGES, specExports } from "../registry.js";

export const LIST_HELP = `convnets list [--json]

The networks convnets can find in the installed @convnets/* packages, with the recipe
each one trains with by default (the book's), the packages to add for the others, and the
engine training would run on (auto, or CONVNETS_BACKEND), with a note for each engine passed over.`;

export interface ListedModel {
  name: string;
  package: string;
  installed: boolean;
  title?: string;
  /** Section of the d2l book (d2l.ai) that builds it, e.g. "8.6". */
  bookSection?: string;
  minInputSize?: number;
  defaults?: ModelSpec["defaults"];
  /** Why a known network's package is there but the network is not usable. */
  problem?: string;
}

/** Every network of the installed packages, then the known ones whose package is missing. */
export async function listModels(cwd: string): Promise<ListedModel[]> {
  const listed: ListedModel[] = [];
  for (const pkg of KNOWN_PACKAGES) {
    let module: Record<string, unknown> | undefined;
    let problem: string | undefined;
    try {
      module = await importPackage(pkg, cwd);
    } catch (err) {
      problem = (err as Error).message;
    }
    // The book's order (lenet before lenet-bn), then any further networks by name.
    const rank = (name: string) => {
      const i = Object.keys(KNOWN_MODELS).indexOf(name);
      return i < 0 ? Number.MAX_SAFE_INTEGER : i;
    };
    const specs = (module ? specExports(module).map(([, s]) => s) : []).sort(
      (a, b) => rank(a.name) - rank(b.name) || a.name.localeCompare(b.name),
    );
    for (const spec of specs) {
      listed.push({
        name: spec.name,
        package: pkg,
        installed: true,
        title: spec.title,
        bookSection: bookSection(spec),
        minInputSize: spec.minInputSize,
        defaults: spec.defaults,
      });
    }
    for (const [name, home] of Object.entries(KNOWN_MODELS)) {
      if (home === pkg && !specs.some((s) => s.name === name)) {
        listed.push({ name, package: pkg, installed: false, problem: problem ?? (module ? `${pkg} does not export it` : undefined) });
      }
    }
  }
  return listed;
}

export async function listCommand(argv: string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseCommandArgs("list", argv, {
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    println(ctx.stdout, LIST_HELP);
    return EXIT.ok;
  }
  if (positionals.length > 0) throw new UsageError(`list takes no arguments, got ${positionals.join(" ")}`);
  const models = await listModels(ctx.cwd);
  if (values.json) {
    println(ctx.stdout, JSON.stringify(models, null, 2));
    return EXIT.ok;
  }
  const installed = models.filter((m) => m.installed);
  const missing = models.filter((m) => !m.installed);
  if (installed.length > 0) {
    println(
      ctx.stdout,
      formatTable(
        ["model", "title", "input", "lr", "batch", "epochs", "min input", "book", "package"],
        installed.map((m) => [
          m.name,
          m.title ?? "",
          `${m.defaults!.inputSize}×${m.defaults!.inputSize}`,
          String(m.defaults!.lr),
          String(m.defaults!.batchSize),
          String(m.defaults!.epochs),
          String(m.minInputSize ?? ""),
          bookCitation(m),
          m.package,
        ]),
        ["left", "left", "right", "right", "right", "right", "right", "left", "left"],
      ),
    );
  } else {
    println(ctx.stdout, "no networks installed yet.");
  }
  if (missing.length > 0) {
    println(ctx.stdout);
    println(ctx.stdout, "not available:");
    const byPackage = new Map<string, ListedModel[]>();
    for (const m of missing) byPackage.set(m.package, [...(byPackage.get(m.package) ?? []), m]);
    for (const [pkg, models] of byPackage) {
      const names = models.map((m) => m.name).join(", ");
      println(ctx.stdout, `  ${names}: ${models[0]!.problem ?? `npm install ${pkg}`}`);
    }
  }
  println(ctx.stdout);
  println(ctx.stdout, `engine: ${await engineLine(ctx)}`);
  println(ctx.stdout, "Train one with: convnets train <model>   (or your own: convnets train ./my-model.js)");
  return EXIT.ok;
}

/** The engine `convnets train` would start here, as `train` reports it; its notes go to stderr as `note:` lines. */
async function engineLine(ctx: CliContext): Promise<string> {
  try {
    const engine = await startEngine(undefined, { notes: ctx.stderr });
    return `${engine.description}   (choose with --backend or CONVNETS_BACKEND: auto, tensorflow, webgpu, wasm, cpu)`;
  } catch (err) {
    return `none: ${(err as Error).message}`;
  }
}
