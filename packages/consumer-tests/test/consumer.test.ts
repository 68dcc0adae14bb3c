/**
 * The packages as a user gets them: `pnpm pack` (which turns `workspace:^` into real versions), then plain
 * npm in a fresh project under the system temp directory, with only what a user would install. Nothing may
 * resolve back into this workspace.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { webgpuUnavailable } from "@convnets/core/testing";
import { beforeAll, describe, expect, it } from "vitest";

const WORKSPACE = resolve(import.meta.dirname, "../../..");
const root = realpathSync(mkdtempSync(join(tmpdir(), "convnets-consumer-")));
const tarballs: Record<string, string> = {};
/** Why the webgpu example cannot run on this machine (no adapter), or undefined where it runs. */
const NO_WEBGPU = await webgpuUnavailable();
if (NO_WEBGPU) console.warn(`the @convnets/webgpu example is skipped: ${NO_WEBGPU}`);

/**
 * What a user's network needs from the environment, kept in the clean one: a TLS-inspecting proxy's certificate,
 * proxy settings, and npm's registry and TLS settings (npm_config_*: as pnpm or the user set them).
 */
const NETWORK_ENV =
  /^(NODE_EXTRA_CA_CERTS|SSL_CERT_FILE|SSL_CERT_DIR|HTTPS?_PROXY|NO_PROXY|ALL_PROXY|npm_config_(registry|@[^:]+:registry|cafile|ca|strict_ssl|proxy|https_proxy|noproxy|no_proxy|fetch_retries|fetch_timeout))$/i;

function run(cmd: string, args: string[], cwd: string): string {
  // A clean environment: no NODE_PATH or workspace bins that could reach back into the workspace.
  const network = Object.entries(process.env).filter(([key]) => NETWORK_ENV.test(key));
  const env = {
    ...Object.fromEntries(network),
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    FASHION_MNIST_DIR: process.env.FASHION_MNIST_DIR,
  };
  return execFileSync(cmd, args, {
    cwd,
    env: env as NodeJS.ProcessEnv,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
}

function project(name: string, packages: string[], extra: string[]): string {
  const dir = join(root, name);
  mkdirSync(dir);
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name, private: true, type: "module" }));
  run(
    "npm",
    ["install", "--no-audit", "--no-fund", "--loglevel=error", ...packages.map((p) => tarballs[p]!), ...extra],
    dir,
  );
  return dir;
}

/** Every @convnets and @tensorflow package the project resolves lies inside the project. */
function assertSelfContained(dir: string): void {
  for (const scope of ["@convnets", "@tensorflow"]) {
    const scopeDir = join(dir, "node_modules", scope);
    for (const pkg of readdirSync(scopeDir)) {
      expect(realpathSync(join(scopeDir, pkg)).startsWith(dir)).toBe(true);
    }
  }
  const lock = readFileSync(join(dir, "package-lock.json"), "utf8");
  expect(lock).not.toContain(WORKSPACE);
  expect(lock).not.toMatch(/"link": true/);
}

beforeAll(() => {
  const dest = join(root, "tarballs");
  mkdirSync(dest);
  for (const pkg of ["model", "wasm", "webgpu", "core", "batchnorm", "resnet", "trainer"]) {
    const out = run("npx", ["-y", "pnpm@12.4.2", "pack", "--pack-destination", dest], join(WORKSPACE, "packages", pkg));
    const file = out
      .trim()
      .split("\n")
      .find((l) => l.endsWith(".tgz"))!
      .trim();
    tarballs[pkg] = existsSync(file) ? file : join(dest, file);
  }
});

describe("installed alone with npm, outside the workspace", () => {
  it("tarballs carry real versions, not workspace: ranges, and only built files", () => {
    const listing = run("tar", ["-tzf", tarballs.resnet!], root);
    expect(listing).toMatch(/package\/dist\/index\.js/);
    expect(listing).not.toMatch(/package\/(src|test)\//);
    const manifest = JSON.parse(run("tar", ["-xzOf", tarballs.resnet!, "package/package.json"], root));
    expect(manifest.dependencies["@convnets/model"]).toMatch(/^\d+\.\d+\.\d+$/);
    expect(manifest.dependencies["@convnets/core"]).toBeUndefined();
    expect(JSON.stringify(manifest)).not.toContain("workspace:");
    expect(JSON.stringify(manifest)).not.toContain("catalog:");
  });

  it("@convnets/resnet alone: brings the model contract and BatchNorm, no engine, no wasm binary", () => {
    const dir = project(
      "resnet-alone",
      ["resnet", "batchnorm", "model"],
      ["@tensorflow/tfjs-core@4.22.0", "@tensorflow/tfjs-layers@4.22.0", "@tensorflow/tfjs-backend-cpu@4.22.0"],
    );
    assertSelfContained(dir);
    // What came with it: the network, its contract and its layer; tfjs's core and layers; the backend the user chose.
    expect(readdirSync(join(dir, "node_modules", "@convnets")).sort()).toEqual(["batchnorm", "model", "resnet"]);
    expect(readdirSync(join(dir, "node_modules", "@tensorflow")).sort()).toEqual([
      "tfjs-backend-cpu",
      "tfjs-core",
      "tfjs-layers",
    ]);
    const wasmFiles = run("find", ["node_modules", "-name", "*.wasm"], dir).trim();
    expect(wasmFiles).toBe("");
    writeFileSync(
      join(dir, "main.js"),
      `import "@tensorflow/tfjs-backend-cpu";
import "@convnets/resnet";
import { createModel, listModels, summary } from "@convnets/model";

const model = createModel("resnet18", { inputShape: [32, 32, 1] });
console.log(JSON.stringify({ models: listModels(), params: summary(model).trainableParams }));
`,
    );
    const result = JSON.parse(run("node", ["main.js"], dir).trim().split("\n").at(-1)!);
    expect(result.models).toEqual(["resnet18", "resnet34"]);
    expect(result.params).toBe(11_178_378);
  });

  it("@convnets/resnet: builds ResNet-18, predicts on a batch and saves it", () => {
    const dir = project(
      "uses-resnet",
      ["resnet", "batchnorm", "model", "core", "wasm", "webgpu"],
      ["@tensorflow/tfjs-core@4.22.0", "@tensorflow/tfjs-layers@4.22.0"],
    );
    assertSelfContained(dir);
    writeFileSync(
      join(dir, "main.js"),
      `import * as tf from "@tensorflow/tfjs-core";
import { resnet18 } from "@convnets/resnet";
import { loadModel, saveModel, setupEngine } from "@convnets/core";

const engine = await setupEngine("wasm");
const model = resnet18();
const x = tf.randomUniform([2, 96, 96, 1], 0, 1, "float32", 7);
const logits = model.predict(x);
await saveModel(model, "saved");
const again = await loadModel("saved");
const diff = tf.max(tf.abs(tf.sub(again.predict(x), logits))).dataSync()[0];
console.log(JSON.stringify({ engine: engine.description, shape: logits.shape, params: model.countParams(), diff,
  resolved: import.meta.resolve("@convnets/resnet") }));
`,
    );
    const result = JSON.parse(run("node", ["main.js"], dir).trim().split("\n").at(-1)!);
    expect(result.engine).toMatch(/^wasm/);
    expect(result.shape).toEqual([2, 10]);
    expect(result.diff).toBe(0);
    expect(result.resolved.startsWith(`file://${dir}/node_modules/`)).toBe(true);
    expect(existsSync(join(dir, "saved", "model.json"))).toBe(true);
    expect(existsSync(join(dir, "saved", "weights.bin"))).toBe(true);
  });

  it("@convnets/wasm alone: a user's own tfjs-layers model trains with model.fit on wasm, on 2 threads", () => {
    const dir = project(
      "uses-wasm",
      ["wasm"],
      ["@tensorflow/tfjs-core@4.22.0", "@tensorflow/tfjs-layers@4.22.0", "@tensorflow/tfjs-backend-wasm@4.22.0"],
    );
    assertSelfContained(dir);
    expect(readdirSync(join(dir, "node_modules", "@convnets"))).toEqual(["wasm"]);
    // The README's example: a small CNN (conv, pooling, dense) that tfjs-backend-wasm alone cannot train.
    writeFileSync(
      join(dir, "main.js"),
      `import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { setupWasm } from "@convnets/wasm";

const engine = await setupWasm({ threads: 2 });
const model = tfl.sequential({ layers: [
  tfl.layers.conv2d({ inputShape: [12, 12, 1], filters: 8, kernelSize: 3, activation: "relu", kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }),
  tfl.layers.maxPooling2d({ poolSize: 2 }),
  tfl.layers.flatten(),
  tfl.layers.dense({ units: 2, activation: "softmax", kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }),
] });
model.compile({ optimizer: tf.train.sgd(0.1), loss: "categoricalCrossentropy", metrics: ["accuracy"] });
// Two classes: a bright left half or a bright right half.
const xs = tf.tidy(() => {
  const left = tf.concat([tf.ones([32, 12, 6, 1]), tf.zeros([32, 12, 6, 1])], 2);
  return tf.add(tf.concat([left, tf.reverse(left, 2)]), tf.randomUniform([64, 12, 12, 1], 0, 0.5, "float32", 1));
});
const ys = tf.oneHot(tf.tensor1d([...Array(32).fill(0), ...Array(32).fill(1)], "int32"), 2);
const history = await model.fit(xs, ys, { epochs: 8, batchSize: 16, shuffle: true, verbose: 0 });
console.log(JSON.stringify({ engine: engine.description, notes: engine.notes, loss: history.history.loss, acc: history.history.acc }));
`,
    );
    const result = JSON.parse(run("node", ["main.js"], dir).trim().split("\n").at(-1)!);
    expect(result.engine).toBe("wasm (simd, 2 threads)");
    expect(result.notes).toEqual([]);
    expect(result.loss.at(-1)).toBeLessThan(result.loss[0] / 2);
    expect(result.acc.at(-1)).toBe(1);
  });

  it.skipIf(NO_WEBGPU !== undefined)(
    "@convnets/webgpu alone: a user's own tfjs-layers model trains with model.fit on webgpu, in Node through Dawn",
    () => {
      const dir = project(
        "uses-webgpu",
        ["webgpu"],
        [
          "@tensorflow/tfjs-core@4.22.0",
          "@tensorflow/tfjs-layers@4.22.0",
          "@tensorflow/tfjs-backend-webgpu@4.22.0",
          "webgpu@0.6.2",
        ],
      );
      assertSelfContained(dir);
      expect(readdirSync(join(dir, "node_modules", "@convnets"))).toEqual(["webgpu"]);
      // The README's example: a small CNN (conv, pooling, dense); its filter gradient is our Conv2DBackpropFilter.
      writeFileSync(
        join(dir, "main.js"),
        `import { create, globals } from "webgpu";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { registerWebgpuTrainingKernels } from "@convnets/webgpu";

Object.assign(globalThis, globals);
Object.defineProperty(globalThis, "navigator", { value: { gpu: create([]) }, configurable: true });
await import("@tensorflow/tfjs-backend-webgpu");
const kernels = registerWebgpuTrainingKernels();
if (!(await tf.setBackend("webgpu"))) throw new Error("no WebGPU adapter");

const model = tfl.sequential({ layers: [
  tfl.layers.conv2d({ inputShape: [12, 12, 1], filters: 8, kernelSize: 3, activation: "relu", kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }),
  tfl.layers.maxPooling2d({ poolSize: 2 }),
  tfl.layers.flatten(),
  tfl.layers.dense({ units: 2, activation: "softmax", kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }),
] });
model.compile({ optimizer: tf.train.sgd(0.1), loss: "categoricalCrossentropy", metrics: ["accuracy"] });
const xs = tf.tidy(() => {
  const left = tf.concat([tf.ones([32, 12, 6, 1]), tf.zeros([32, 12, 6, 1])], 2);
  return tf.add(tf.concat([left, tf.reverse(left, 2)]), tf.randomUniform([64, 12, 12, 1], 0, 0.5, "float32", 1));
});
const ys = tf.oneHot(tf.tensor1d([...Array(32).fill(0), ...Array(32).fill(1)], "int32"), 2);
const history = await model.fit(xs, ys, { epochs: 8, batchSize: 16, shuffle: true, verbose: 0 });
console.log(JSON.stringify({ backend: tf.getBackend(), kernels, loss: history.history.loss, acc: history.history.acc }));
`,
      );
      const result = JSON.parse(run("node", ["main.js"], dir).trim().split("\n").at(-1)!);
      expect(result.backend).toBe("webgpu");
      expect(result.kernels).toContain("Conv2DBackpropFilter");
      expect(result.loss.at(-1)).toBeLessThan(result.loss[0] / 2);
      expect(result.acc.at(-1)).toBe(1);
    },
  );

  it("@convnets/trainer: trains the user's own tiny model for one epoch on the real data", () => {
    const dir = project(
      "uses-trainer",
      ["trainer", "core", "model", "wasm", "webgpu"],
      ["@tensorflow/tfjs-core@4.22.0", "@tensorflow/tfjs-layers@4.22.0"],
    );
    assertSelfContained(dir);
    writeFileSync(
      join(dir, "tiny.js"),
      `import * as tfl from "@tensorflow/tfjs-layers";
export default () => tfl.sequential({ layers: [
  tfl.layers.flatten({ inputShape: [28, 28, 1] }),
  tfl.layers.dense({ units: 32, activation: "relu" }),
  tfl.layers.dense({ units: 10 }),
] });
`,
    );
    const out = run(
      "npx",
      ["convnets", "train", "./tiny.js", "--epochs", "1", "--lr", "0.1", "--batch-size", "256", "--out", "run"],
      dir,
    );
    const final = out.match(/loss (\d\.\d+), train acc (\d\.\d+), test acc (\d\.\d+)/);
    expect(final, out).not.toBeNull();
    expect(Number(final![3])).toBeGreaterThan(0.7);
    expect(out).toMatch(/examples\/sec on wasm/);
    const history = JSON.parse(readFileSync(join(dir, "run", "history.json"), "utf8"));
    expect(JSON.stringify(history)).toContain('"epoch":1');
  });
});
