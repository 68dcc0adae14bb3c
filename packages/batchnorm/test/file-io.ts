import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { type LayersModel, loadLayersModel } from "@tensorflow/tfjs-layers";

/**
 * Saves a model the way tfjs-node's `file://` handler does (model.json + weights.bin), which this
 * machine cannot install: the topology goes through JSON on disk, so a config that does not
 * survive serialisation fails here as it would there.
 */
export async function saveToDir(model: LayersModel, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weightData = tf.io.CompositeArrayBuffer.join(artifacts.weightData);
      const modelJson: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology!,
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy,
        weightsManifest: [{ paths: ["./weights.bin"], weights: artifacts.weightSpecs! }],
      };
      await writeFile(join(dir, "model.json"), JSON.stringify(modelJson));
      await writeFile(join(dir, "weights.bin"), new Uint8Array(weightData));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    }),
  );
}

/** Loads what {@link saveToDir} wrote, through `tf.loadLayersModel` and the class registry. */
export async function loadFromDir(dir: string): Promise<LayersModel> {
  const modelJson = JSON.parse(await readFile(join(dir, "model.json"), "utf8")) as tf.io.ModelJSON;
  const artifacts = await tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
    const group = manifest[0]!;
    const bytes = await readFile(join(dir, group.paths[0]!));
    const weightData = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    return [group.weights, weightData];
  });
  return loadLayersModel(tf.io.fromMemory(artifacts));
}
