import { createReadStream, existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { candidateDirs, FASHION_MNIST_FILES } from "@convnets/core";
import { installedNetworkPackages } from "@convnets/trainer";
import { defineConfig, type Plugin, type PreviewServer, type ViteDevServer } from "vite";

/**
 * Cross-origin isolation (COOP + COEP): the page gets SharedArrayBuffer, so tfjs's threaded wasm build can run.
 * Everything the page loads is its own, so `require-corp` costs nothing.
 */
const ISOLATION_HEADERS = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "require-corp",
};

/** The route the page fetches the dataset's files from. */
export const DATA_ROUTE = "/data/fashion-mnist/";

/** The directory with the four files, found the way the CLI finds it (FASHION_MNIST_DIR, the cache, Debian's package). */
function datasetDir(): string | undefined {
  const names = Object.values(FASHION_MNIST_FILES);
  return candidateDirs().find((dir) =>
    names.every((n) => existsSync(join(dir, `${n}.gz`)) || existsSync(join(dir, n))),
  );
}

/** Serves the four Fashion-MNIST files, as stored (gzip'd or raw), from the dataset directory; nothing else. */
function fashionMnistFiles(): Plugin {
  const serve = (server: ViteDevServer | PreviewServer) => {
    const dir = datasetDir();
    const allowed = new Set(Object.values(FASHION_MNIST_FILES).flatMap((n) => [n, `${n}.gz`]));
    server.middlewares.use((req, res, next) => {
      const url = req.url?.split("?")[0] ?? "";
      if (!url.startsWith(DATA_ROUTE)) return next();
      const name = decodeURIComponent(url.slice(DATA_ROUTE.length));
      const path = dir && allowed.has(name) ? join(dir, name) : undefined;
      if (!path || !existsSync(path)) {
        res.statusCode = 404;
        res.setHeader("Content-Type", "text/plain");
        res.end(
          dir
            ? `${name} is not one of the Fashion-MNIST files in ${dir}`
            : `no Fashion-MNIST directory found (looked in ${candidateDirs().join(", ")}); apt-get install dataset-fashion-mnist or set FASHION_MNIST_DIR`,
        );
        return;
      }
      res.setHeader("Content-Type", "application/octet-stream");
      res.setHeader("Cache-Control", "no-cache");
      createReadStream(path).pipe(res);
    });
  };
  return { name: "fashion-mnist-files", configureServer: serve, configurePreviewServer: serve };
}

const VIRTUAL_NETWORKS = "virtual:convnets-networks";

/**
 * `virtual:convnets-networks`: one side-effect import of every network package installed for the page (the
 * `@convnets/*` packages with the keyword `convnets-network`, found as `convnets list` finds them). Each registers
 * its networks when imported, and the page lists the registry: a new network package the page depends on is
 * offered with nothing else edited.
 */
export function convnetsNetworks(root = fileURLToPath(new URL(".", import.meta.url))): Plugin {
  const resolved = `\0${VIRTUAL_NETWORKS}`;
  return {
    name: "convnets-networks",
    resolveId: (id) => (id === VIRTUAL_NETWORKS ? resolved : undefined),
    load: (id) =>
      id === resolved
        ? installedNetworkPackages(root, { fromTrainer: false })
            .map((pkg) => `import ${JSON.stringify(pkg)};`)
            .join("\n")
        : undefined,
  };
}

export default defineConfig({
  plugins: [fashionMnistFiles(), convnetsNetworks()],
  server: { headers: ISOLATION_HEADERS },
  preview: { headers: ISOLATION_HEADERS },
  build: {
    target: "es2022",
    // Not minified: tfjs's threaded wasm build starts its workers from the source text of its glue function
    // (`Function.toString()`), and a minifier drops the glue's `typeof _scriptDir` guard, which then throws
    // "e is not defined" in every worker.
    minify: false,
    chunkSizeWarningLimit: 8192,
  },
  worker: { format: "es" },
});
