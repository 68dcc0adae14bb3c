import { execFileSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { tryWebgpu, WEBGPU_INSTALL_HINT } from "./webgpu.js";

/** Which engine (tfjs backend) to train on. `auto` picks the fastest one installed. */
export type EnginePreference = "auto" | "tensorflow" | "webgpu" | "wasm" | "cpu";

export const ENGINE_PREFERENCES: readonly EnginePreference[] = ["auto", "tensorflow", "webgpu", "wasm", "cpu"];

/** What a result was measured on; goes with every reported number. */
export interface EngineInfo {
  /** The tfjs backend name: `tensorflow`, `webgpu`, `wasm` or `cpu`. */
  backend: string;
  /** One line for reports: `wasm (simd, 1 thread)`, `tensorflow (GPU 0: NVIDIA H100)`, `webgpu (llvmpipe, vulkan, software)`. */
  description: string;
  simd?: boolean;
  threads?: number;
  gpu?: string;
  /** Kernels convnets registered on this backend: missing, incorrect or too slow in it (see WASM_TRAINING_KERNELS). */
  addedKernels: string[];
  /**
   * One line each for what is not as asked (a thread count lowered, the threaded build unable to start, a webgpu
   * adapter passed over): show them.
   */
  notes?: string[];
}

export interface EngineOptions {
  /**
   * Threads for the wasm engine: a whole number (1..8) or its text. Default: `CONVNETS_THREADS`, else the
   * cores this process may use (`availableCores()` of `@convnets/wasm`). Other engines ignore it.
   */
  threads?: number | string;
}

const require = createRequire(import.meta.url);

const INSTALL_HINT: Record<Exclude<EnginePreference, "auto">, string> = {
  tensorflow:
    "install @tensorflow/tfjs-node-gpu@4.22.0 (NVIDIA GPU, CUDA 11.8 + cuDNN 8.6) or @tensorflow/tfjs-node@4.22.0 (CPU); both download libtensorflow when installed, so they need internet access",
  webgpu: WEBGPU_INSTALL_HINT,
  wasm: "install @tensorflow/tfjs-backend-wasm@4.22.0",
  cpu: "install @tensorflow/tfjs-backend-cpu@4.22.0",
};

function parsePreference(value: string, source: string): EnginePreference {
  if ((ENGINE_PREFERENCES as readonly string[]).includes(value)) return value as EnginePreference;
  throw new Error(`${source}: unknown engine "${value}"; use one of ${ENGINE_PREFERENCES.join(", ")}`);
}

/**
 * Picks the training engine and makes it the active tfjs backend.
 *
 * Order for `auto`: tensorflow (tfjs-node-gpu, then tfjs-node) → webgpu (a hardware adapter; a software one,
 * lavapipe or SwiftShader, only when `webgpu` is asked for by name) → wasm → cpu. The preference comes from
 * the argument, else `CONVNETS_BACKEND`, else `auto`. Asking for an engine that is not installed is an
 * error that says how to install it. On wasm (`@convnets/wasm`), runs on `options.threads` threads (default:
 * `CONVNETS_THREADS`, else every core) and registers the kernels training needs that it lacks.
 */
export async function setupEngine(
  preference?: EnginePreference | string,
  options: EngineOptions = {},
): Promise<EngineInfo> {
  const wanted =
    preference !== undefined
      ? parsePreference(preference, "engine")
      : process.env.CONVNETS_BACKEND
        ? parsePreference(process.env.CONVNETS_BACKEND, "CONVNETS_BACKEND")
        : "auto";

  if (wanted === "tensorflow" || wanted === "auto") {
    const info = await tryTensorflow();
    if (info) return info;
    if (wanted === "tensorflow") {
      throw new Error(`engine "tensorflow" is not available: ${INSTALL_HINT.tensorflow}`);
    }
  }
  // Why auto passed webgpu over, where it is installed; said with whichever engine it settles on.
  const passedOver: string[] = [];
  if (wanted === "webgpu" || wanted === "auto") {
    const attempt = await tryWebgpu(wanted === "webgpu");
    if (attempt.ok) {
      return {
        backend: "webgpu",
        description: attempt.description,
        gpu: attempt.adapter.description,
        addedKernels: attempt.addedKernels,
      };
    }
    if (wanted === "webgpu") throw new Error(`engine "webgpu" is not available: ${attempt.reason}`);
    // No adapter at all (no GPU, no Vulkan driver) is the common case of a machine without a GPU: nothing to say.
    if (attempt.installed && !attempt.noAdapter) passedOver.push(`webgpu: ${attempt.reason}`);
  }
  if (wanted === "wasm" || wanted === "auto") {
    const info = await tryWasm(await wantedThreads(options.threads));
    if (info) return withNotes(info, passedOver);
    if (wanted === "wasm") throw new Error(`engine "wasm" is not available: ${INSTALL_HINT.wasm}`);
  }
  const info = await tryCpu();
  if (info) return withNotes(info, passedOver);
  throw new Error(`engine "cpu" is not available: ${INSTALL_HINT.cpu}`);
}

function withNotes(info: EngineInfo, notes: string[]): EngineInfo {
  return notes.length ? { ...info, notes: [...notes, ...(info.notes ?? [])] } : info;
}

/** The thread count asked for, as a number (undefined: all cores), or an error naming where a bad one came from. */
async function wantedThreads(threads: number | string | undefined): Promise<number | undefined> {
  const text = threads ?? process.env.CONVNETS_THREADS;
  if (text === undefined || text === "") return undefined;
  const { parseThreads } = await import("@convnets/wasm");
  return parseThreads(String(text), threads !== undefined ? "threads" : "CONVNETS_THREADS");
}

async function importOptional(specifier: string): Promise<boolean> {
  try {
    await import(specifier);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether a tfjs-node package is installed with its native binding. Where its install script could not
 * download libtensorflow (offline), the package is there without its `tfjs_binding.node` under `lib/napi-v8`; importing
 * it would register ~150 kernels, print a warning for each, and then fail.
 */
function hasNativeBinding(pkg: string): boolean {
  try {
    const root = dirname(require.resolve(`${pkg}/package.json`));
    const lib = join(root, "lib");
    return readdirSync(lib).some((d) => d.startsWith("napi-v") && existsSync(join(lib, d, "tfjs_binding.node")));
  } catch {
    return false;
  }
}

async function tryTensorflow(): Promise<EngineInfo | undefined> {
  let gpuPackage = true;
  if (!hasNativeBinding("@tensorflow/tfjs-node-gpu") || !(await importOptional("@tensorflow/tfjs-node-gpu"))) {
    gpuPackage = false;
    if (!hasNativeBinding("@tensorflow/tfjs-node") || !(await importOptional("@tensorflow/tfjs-node")))
      return undefined;
  }
  if (!tf.findBackend("tensorflow") && !tf.findBackendFactory("tensorflow")) return undefined;
  if (!(await tf.setBackend("tensorflow"))) return undefined;
  await tf.ready();
  const gpu = gpuPackage ? gpuName() : undefined;
  return {
    backend: "tensorflow",
    description: gpu ? `tensorflow (${gpu})` : gpuPackage ? "tensorflow (GPU build)" : "tensorflow (CPU)",
    gpu,
    addedKernels: [],
  };
}

function gpuName(): string | undefined {
  try {
    const out = execFileSync("nvidia-smi", ["--query-gpu=index,name", "--format=csv,noheader"], {
      encoding: "utf8",
      timeout: 5000,
      stdio: ["ignore", "pipe", "ignore"],
    });
    const first = out.trim().split("\n")[0];
    if (!first) return undefined;
    const [index, name] = first.split(",").map((s) => s.trim());
    return `GPU ${index}: ${name}`;
  } catch {
    return undefined;
  }
}

async function tryWasm(threads: number | undefined): Promise<EngineInfo | undefined> {
  let wasm: typeof import("@convnets/wasm");
  try {
    await import("@tensorflow/tfjs-backend-wasm");
    wasm = await import("@convnets/wasm");
  } catch {
    return undefined;
  }
  const engine = await wasm.setupWasm({ threads });
  return {
    backend: "wasm",
    description: engine.description,
    simd: engine.simd,
    threads: engine.threads,
    addedKernels: engine.addedKernels,
    notes: engine.notes,
  };
}

async function tryCpu(): Promise<EngineInfo | undefined> {
  if (!(await importOptional("@tensorflow/tfjs-backend-cpu"))) return undefined;
  if (!(await tf.setBackend("cpu"))) return undefined;
  await tf.ready();
  // The cpu backend greets its first tensor with a banner recommending tfjs-node; our description says it.
  (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
  return { backend: "cpu", description: "cpu (pure JavaScript, about 100× slower than wasm)", addedKernels: [] };
}
