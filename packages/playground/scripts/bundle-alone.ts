/**
 * Each network package bundled alone: a Vite build of a page that imports only that package and tfjs
 * (tfjs-core, tfjs-layers, the webgl backend), built as an application would build it. Reports every Node
 * built-in module the page would pull in, and the page's size.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { installedNetworkPackages } from "@convnets/trainer";
import { build, type Plugin, type Rollup } from "vite";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const NODE_BUILTINS = new Set(builtinModules);

/**
 * Each installed network package (found as `convnets list` finds them), whose page builds its first registered
 * network through `@convnets/model`'s registry, then `@convnets/batchnorm`, whose page builds a model of its layer.
 */
export const NETWORK_PACKAGES: readonly { pkg: string; network: boolean }[] = [
  ...installedNetworkPackages(ROOT, { fromTrainer: false }).map((pkg) => ({ pkg, network: true })),
  { pkg: "@convnets/batchnorm", network: false },
];

export interface BundleReport {
  pkg: string;
  /** Node built-ins the bundle would need, as "importer → module" (Vite would stub them out: the page breaks). */
  nodeModules: string[];
  /** The page's JavaScript, minified. */
  bytes: number;
  gzipBytes: number;
  /** What of it is @convnets/* code (rendered, before minifying). */
  convnetsBytes: number;
}

/** The `browser` field of the package a file belongs to (the nearest package.json up from it). */
function browserField(file: string): Record<string, string | false> {
  for (let dir = dirname(file); dir !== dirname(dir); dir = dirname(dir)) {
    const manifest = join(dir, "package.json");
    if (!existsSync(manifest)) continue;
    const { browser } = JSON.parse(readFileSync(manifest, "utf8")) as { browser?: unknown };
    return typeof browser === "object" && browser !== null ? (browser as Record<string, string | false>) : {};
  }
  return {};
}

/**
 * Records each Node built-in a module imports, unless its package's `browser` field maps it to false
 * (tfjs-core maps `util` and `crypto`, seedrandom `crypto`): a bundler leaves those out of a page.
 */
function recordNodeModules(found: string[]): Plugin {
  return {
    name: "record-node-modules",
    enforce: "pre",
    resolveId(source, importer) {
      const bare = source.replace(/^node:/, "").split("/")[0]!;
      if (!source.startsWith("node:") && !NODE_BUILTINS.has(bare)) return null;
      if (importer && browserField(importer)[source] === false) return null;
      found.push(
        `${(importer ?? "?").replace(/.*node_modules\//, "").replace(/.*\/packages\//, "packages/")} → ${source}`,
      );
      return null;
    },
  };
}

/** Builds the page for one package (`page`: other code than building its model) into memory and measures it. */
export async function bundleAlone(pkg: string, network: boolean, page?: string): Promise<BundleReport> {
  const dir = join(ROOT, "node_modules/.bundle-alone", pkg.replace("@convnets/", ""));
  mkdirSync(dir, { recursive: true });
  const use =
    page ??
    (network
      ? `import "${pkg}";\nimport { createModel, listModels } from "@convnets/model";\nconst model = createModel(listModels()[0]);\ndocument.body.textContent = \`\${model.name}: \${model.countParams()} parameters\`;`
      : `import { batchNorm } from "${pkg}";\nimport { sequential } from "@tensorflow/tfjs-layers";\nconst model = sequential({ layers: [batchNorm({ inputShape: [4] })] });\ndocument.body.textContent = String(model.countParams());`);
  writeFileSync(
    join(dir, "main.js"),
    `import "@tensorflow/tfjs-backend-webgl";\nimport "@tensorflow/tfjs-layers";\n${use}\n`,
  );
  writeFileSync(join(dir, "index.html"), `<!doctype html><script type="module" src="./main.js"></script>\n`);
  const found: string[] = [];
  const output = (await build({
    root: dir,
    configFile: false,
    logLevel: "silent",
    plugins: [recordNodeModules(found)],
    build: { write: false, target: "es2022", chunkSizeWarningLimit: 1e9 },
  })) as Rollup.RollupOutput;
  const chunks = output.output.filter((o): o is Rollup.OutputChunk => o.type === "chunk");
  const code = chunks.map((c) => c.code).join("\n");
  const convnetsBytes = chunks
    .flatMap((c) => Object.entries(c.modules))
    .filter(([id]) => /\/packages\/[a-z]+\/dist\//.test(id) && !id.includes("node_modules"))
    .reduce((sum, [, m]) => sum + m.renderedLength, 0);
  return {
    pkg,
    nodeModules: [...new Set(found)],
    bytes: Buffer.byteLength(code),
    gzipBytes: gzipSync(code).length,
    convnetsBytes,
  };
}
