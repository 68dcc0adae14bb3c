import { existsSync } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { type LayersModel, loadLayersModel } from "@tensorflow/tfjs-layers";

const MODEL_JSON = "model.json";
const WEIGHTS_BIN = "weights.bin";

/**
 * Saves a model in TensorFlow.js layers format (`model.json` + `weights.bin`, what `model.save('file://…')`
 * writes and what a browser's `tf.loadLayersModel` reads), atomically: the files are written to `<dir>.tmp`,
 * which then replaces `dir`, so a crash leaves either the old model or the new one, never half of each.
 */
export async function saveModel(model: LayersModel, dir: string): Promise<void> {
  const tmp = `${dir}.tmp`;
  const old = `${dir}.old`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weights = artifacts.weightData ? tf.io.CompositeArrayBuffer.join(artifacts.weightData) : new ArrayBuffer(0);
      await writeFile(join(tmp, WEIGHTS_BIN), new Uint8Array(weights));
      const manifest = {
        format: artifacts.format ?? "layers-model",
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: [WEIGHTS_BIN], weights: artifacts.weightSpecs ?? [] }],
      };
      await writeFile(join(tmp, MODEL_JSON), JSON.stringify(manifest));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    }),
  );
  if (existsSync(dir)) {
    await rm(old, { recursive: true, force: true });
    await rename(dir, old);
  }
  await rename(tmp, dir);
  await rm(old, { recursive: true, force: true });
}

/**
 * Loads a model saved by `saveModel` (or by tfjs-node's `model.save('file://dir')`). Custom layers, such
 * as @convnets/batchnorm's, must be registered first: importing their package does that.
 */
export async function loadModel(dir: string): Promise<LayersModel> {
  // A crash between the two renames of saveModel leaves only `<dir>.old`: that is the last good model.
  const from = !existsSync(dir) && existsSync(`${dir}.old`) ? `${dir}.old` : dir;
  const jsonPath = join(from, MODEL_JSON);
  let manifest: {
    modelTopology?: object;
    weightsManifest?: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
    format?: string;
    generatedBy?: string;
    convertedBy?: string | null;
  };
  try {
    manifest = JSON.parse(await readFile(jsonPath, "utf8"));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(
      code === "ENOENT"
        ? `${jsonPath} not found: ${dir} is not a saved TensorFlow.js model`
        : `${jsonPath}: cannot read model (${(err as Error).message})`,
    );
  }
  if (!manifest.modelTopology || !manifest.weightsManifest) {
    throw new Error(`${jsonPath}: not a TensorFlow.js layers model (no modelTopology or weightsManifest)`);
  }
  const weightSpecs: tf.io.WeightsManifestEntry[] = [];
  const buffers: Uint8Array[] = [];
  for (const group of manifest.weightsManifest) {
    weightSpecs.push(...group.weights);
    for (const path of group.paths) buffers.push(await readFile(join(from, path)));
  }
  const weightData = new Uint8Array(buffers.reduce((n, b) => n + b.length, 0));
  let offset = 0;
  for (const b of buffers) {
    weightData.set(b, offset);
    offset += b.length;
  }
  return loadLayersModel(
    tf.io.fromMemory({
      modelTopology: manifest.modelTopology,
      weightSpecs,
      weightData: weightData.buffer,
      format: manifest.format,
      generatedBy: manifest.generatedBy,
      convertedBy: manifest.convertedBy ?? undefined,
    }),
  );
}
