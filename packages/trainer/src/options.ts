import { type ParseArgsConfig, parseArgs } from "node:util";
import { UsageError } from "./context.js";

type OptionSpecs = NonNullable<ParseArgsConfig["options"]>;

export interface Parsed {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/**
 * `util.parseArgs`, strict, with two kindnesses: `--lr -0.1` is read as the value -0.1 (which the
 * validators then refuse with a clear reason, rather than parseArgs' "ambiguous option"), and errors
 * name the command's options.
 */
export function parseCommandArgs(command: string, argv: string[], options: OptionSpecs): Parsed {
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    const name = arg.startsWith("--") ? arg.slice(2) : undefined;
    if (name && options[name]?.type === "string" && next !== undefined && /^-[\d.]/.test(next)) {
      args.push(`${arg}=${next}`);
      i++;
    } else {
      args.push(arg);
    }
  }
  try {
    const { values, positionals } = parseArgs({ args, options, allowPositionals: true, strict: true });
    return { values: values as Parsed["values"], positionals };
  } catch (err) {
    const known = Object.keys(options)
      .map((o) => `--${o}`)
      .join(" ");
    throw new UsageError(`${command}: ${(err as Error).message.split("\n")[0]} (options: ${known}; see convnets help)`);
  }
}

const INTEGER = /^\d+$/;

/** A whole number ≥ `min`, or undefined when the option was not given. */
export function intOption(name: string, value: unknown, min: number, hint: string): number | undefined {
  if (value === undefined) return undefined;
  const text = String(value).trim();
  if (!INTEGER.test(text) || Number(text) < min) {
    throw new UsageError(`--${name} ${text}: must be a whole number ≥ ${min} (${hint})`);
  }
  return Number(text);
}

/** A finite number > 0, or undefined when the option was not given. */
export function positiveOption(name: string, value: unknown, hint: string): number | undefined {
  if (value === undefined) return undefined;
  const text = String(value).trim();
  const n = Number(text);
  if (text === "" || !Number.isFinite(n) || n <= 0) {
    throw new UsageError(`--${name} ${text}: must be a positive number (${hint})`);
  }
  return n;
}

export function stringOption(value: unknown): string | undefined {
  return value === undefined ? undefined : String(value);
}
