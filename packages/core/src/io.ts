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
  try {
    await mkdir(tmp, { recursive: true });
    await model.save(
      tf.io.withSaveHandler(async (artifacts) => {
        const weights = artifacts.weightData
          ? tf.io.CompositeArrayBuffer.join(artifacts.weightData)
          : new ArrayBuffer(0);
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
  } catch (err) {
    // A failed save (a full disk) leaves no half-written copy taking space; the previous save is untouched.
    await rm(tmp, { recursive: true, force: true }).catch(() => {});
    throw err;
  }
  if (existsSync(dir)) {
    await rm(old, { recursive: true, force: true });
    await rename(dir, old);
  }
  await rename(tmp, dir);
  await rm(old, { recursive: true, force: true });
}

/** A saved model's file that is missing, unreadable or damaged; `file` is its path, which the message names. */
export class ModelFileError extends Error {
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(problem.startsWith(" ") ? `${file}${problem}` : `${file}: ${problem}`);
    this.name = "ModelFileError";
  }
}

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, complex64: 8 };

/** Bytes the weights of a manifest need, or undefined when they cannot be counted (quantized, strings). */
function weightBytes(weights: tf.io.WeightsManifestEntry[]): number | undefined {
  let total = 0;
  for (const w of weights) {
    const bytes = DTYPE_BYTES[w.dtype];
    if (w.quantization || bytes === undefined) return undefined;
    total += w.shape.reduce((a, b) => a * b, 1) * bytes;
  }
  return total;
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
    throw new ModelFileError(
      jsonPath,
      code === "ENOENT"
        ? ` not found: ${dir} is not a saved TensorFlow.js model`
        : code
          ? `cannot read model (${(err as Error).message})`
          : `damaged: not valid JSON (${(err as Error).message})`,
    );
  }
  if (
    typeof manifest !== "object" ||
    manifest === null ||
    !manifest.modelTopology ||
    !Array.isArray(manifest.weightsManifest)
  ) {
    throw new ModelFileError(jsonPath, "not a TensorFlow.js layers model (no modelTopology or weightsManifest)");
  }
  const weightSpecs: tf.io.WeightsManifestEntry[] = [];
  const buffers: Uint8Array[] = [];
  const files: string[] = [];
  for (const group of manifest.weightsManifest) {
    weightSpecs.push(...group.weights);
    for (const path of group.paths) {
      const file = join(from, path);
      files.push(file);
      try {
        buffers.push(await readFile(file));
      } catch (err) {
        throw new ModelFileError(
          file,
          `cannot read the weights (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
        );
      }
    }
  }
  const weightData = new Uint8Array(buffers.reduce((n, b) => n + b.length, 0));
  let offset = 0;
  for (const b of buffers) {
    weightData.set(b, offset);
    offset += b.length;
  }
  const expected = weightBytes(weightSpecs);
  const weightsName =
    files.length === 1 ? files[0]! : `${from}/{${files.map((f) => f.slice(from.length + 1)).join(",")}}`;
  if (expected !== undefined && expected !== weightData.length) {
    throw new ModelFileError(
      weightsName,
      `damaged: ${weightData.length} bytes of weights, ${MODEL_JSON} describes ${expected}` +
        (weightData.length < expected ? " (truncated)" : ""),
    );
  }
  try {
    return await loadLayersModel(
      tf.io.fromMemory({
        modelTopology: manifest.modelTopology,
        weightSpecs,
        weightData: weightData.buffer,
        format: manifest.format,
        generatedBy: manifest.generatedBy,
        convertedBy: manifest.convertedBy ?? undefined,
      }),
    );
  } catch (err) {
    const message = (err as Error).message;
    // An unknown layer class is a missing import, not a damaged file: keep tfjs's message, which names the class.
    if (/Unknown layer/i.test(message)) throw err;
    throw new ModelFileError(jsonPath, `cannot build the model it describes (${message})`);
  }
}
