import type { ModelSpec } from "@convnets/model";
import { bookSection } from "../book.js";
import { startEngine } from "../common.js";
import { type CliContext, EXIT, println, UsageError } from "../context.js";
import { formatTable } from "../format.js";
import { parseCommandArgs } from "../options.js";
import { registeredModels } from "../registry.js";

export const LIST_HELP = `convnets list [--json]

The networks the installed @convnets/* packages register, in the book's order, with the recipe
each one trains with by default (Dive into Deep Learning's, section d2l), and the engine training
would run on (auto, or CONVNETS_BACKEND), with a note for each engine passed over.`;

export interface ListedModel {
  name: string;
  /** The package that registers it; undefined for a network registered in this process by no installed package. */
  package?: string;
  installed: boolean;
  title?: string;
  /** Section of Dive into Deep Learning that builds it (`7.6`). */
  d2lSection?: string;
  minInputSize?: number;
  defaults?: ModelSpec["defaults"];
  /** Why an installed network package is not usable. */
  problem?: string;
}

/** Every network the installed packages register (and any registered in this process), in the book's order; then the packages that failed to load. */
export async function listModels(cwd: string): Promise<ListedModel[]> {
  const { models, problems } = await registeredModels(cwd);
  return [
    ...models.map(({ name, spec, source }) => ({
      name,
      package: source.kind === "package" ? source.specifier : undefined,
      installed: true,
      title: spec.title,
      d2lSection: bookSection(spec),
      minInputSize: spec.minInputSize,
      defaults: spec.defaults,
    })),
    ...problems.map((p) => ({ name: p.package, package: p.package, installed: false, problem: p.problem })),
  ];
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
        ["model", "title", "input", "lr", "batch", "epochs", "min input", "d2l", "package"],
        installed.map((m) => [
          m.name,
          m.title ?? "",
          `${m.defaults!.inputSize}×${m.defaults!.inputSize}`,
          String(m.defaults!.lr),
          String(m.defaults!.batchSize),
          String(m.defaults!.epochs),
          String(m.minInputSize ?? ""),
          m.d2lSection ? `§${m.d2lSection}` : "",
          m.package ?? "(registered)",
        ]),
        ["left", "left", "right", "right", "right", "right", "right", "left", "left"],
      ),
    );
  } else {
    println(
      ctx.stdout,
      "no networks installed yet: add a network package (npm install @convnets/lenet), or train your own module.",
    );
  }
  if (missing.length > 0) {
    println(ctx.stdout);
    println(ctx.stdout, "installed but not usable:");
    for (const m of missing) println(ctx.stdout, `  ${m.package}: ${m.problem}`);
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
