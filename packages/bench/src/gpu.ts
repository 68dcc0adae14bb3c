/**
 * bench:gpu — the webgpu engine's speed where a GPU is lent: LeNet and ResNet-18 training and inference
 * examples/sec on webgpu, and on wasm (every core) for scale, at each network's recipe (LeNet 28×28 batch 256,
 * ResNet-18 96×96 batch 256), through `convnets bench`. Prints the adapter Dawn found first: on a machine
 * whose only adapter is a software one (lavapipe, SwiftShader) the webgpu rows measure the CPU, and it says so.
 *
 *   pnpm --filter @convnets/bench bench:gpu [--batches N] [--out FILE] [--batch-size N --input-size N]
 *
 * (`--batch-size`/`--input-size` replace the recipes', for a quick run on a software adapter.)
 *
 * Needs `webgpu` (installed in this workspace) and, on Linux, a Vulkan driver: with NVIDIA's driver its Vulkan
 * ICD (libnvidia-gl / nvidia_icd.json); check with `vulkaninfo --summary`.
 */
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { setupEngine } from "@convnets/core";
import { main } from "@convnets/trainer";
import { callerDir, positiveInt } from "./options.js";

const { values } = parseArgs({
  options: { batches: { type: "string" }, out: { type: "string" }, "batch-size": { type: "string" }, "input-size": { type: "string" } },
});
const batches = positiveInt("batches", values.batches) ?? 3;
const out = values.out ? resolve(callerDir, values.out) : join(callerDir, "runs", `bench-gpu-${Date.now()}.json`);

const engine = await setupEngine("webgpu").catch((err: Error) => {
  console.error(`bench:gpu: ${err.message}`);
  process.exit(1);
});
console.log(`adapter: ${engine.gpu} → ${engine.description}`);
if (engine.description.endsWith(", software)")) {
  console.log("note: a software adapter — the webgpu rows below measure this machine's CPU, not a GPU");
}
const sizes = (["batch-size", "input-size"] as const).flatMap((name) => {
  const n = positiveInt(name, values[name]);
  return n === undefined ? [] : [`--${name}`, String(n)];
});
process.exitCode = await main(["bench", "lenet", "resnet18", "--backend", "webgpu,wasm", "--batches", String(batches), "--out", out, ...sizes]);
