import * as tf from "@tensorflow/tfjs-core";
import { type LayersModel, loadLayersModel } from "@tensorflow/tfjs-layers";

/**
 * Loads a model from the files of a run directory written by `convnets train` (its `model.json` and
 * `weights.bin`; any names, found by extension), or of a model the page saved.
 */
export async function loadRunModel(files: readonly File[]): Promise<{ model: LayersModel; name: string }> {
  const json = files.find((f) => f.name.endsWith(".json"));
  const weights = files.filter((f) => f.name.endsWith(".bin"));
  if (!json || weights.length === 0) {
    const got = files.map((f) => f.name).join(", ") || "nothing";
    throw new Error(
      `got ${got}: drop a run's model.json and its weights.bin together (from <run>/model/ of convnets train)`,
    );
  }
  try {
    return { model: await loadLayersModel(tf.io.browserFiles([json, ...weights])), name: json.name };
  } catch (err) {
    throw new Error(`${json.name}: not a TensorFlow.js layers model with these weights (${(err as Error).message})`);
  }
}
