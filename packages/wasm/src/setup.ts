import { BackendWasm, getThreadsCount, setThreadsCount } from "@tensorflow/tfjs-backend-wasm";
import * as tf from "@tensorflow/tfjs-core";
import { availableCores, canRunThreads, letProcessExit, type ThreadedModuleOptions, threadedModule } from "#threads";
import { registerWasmTrainingKernels } from "./kernels/index.js";

export { availableCores };

/**
 * The most threads setupWasm starts: the pool size tfjs's threaded build was made with (Emscripten
 * preallocated 8 workers), and the most tested here.
 */
export const MAX_THREADS = 8;

export interface WasmOptions {
  /**
   * Threads for XNNPACK's pool and convnets' kernels: a whole number from 1 to MAX_THREADS (8); more is
   * lowered to 8 with a note. Default: the cores this process may use (`availableCores()`). `1` runs
   * tfjs's single-threaded SIMD build, as tfjs does in Node by default.
   */
  threads?: number;
  /** For tests: how the threaded build's workers start. */
  threadedModule?: ThreadedModuleOptions;
}

/** What `setupWasm` brought up. */
export interface WasmEngine {
  /** Threads that really run (the threadpool's size as the backend reports it). */
  threads: number;
  simd: boolean;
  /** One line for reports: `wasm (simd, 2 threads)`. */
  description: string;
  /** Kernels convnets registered on wasm (see WASM_TRAINING_KERNELS). */
  addedKernels: string[];
  /** One line each for what was not as asked: a count lowered, the threaded build unable to start. */
  notes: string[];
}

/** tfjs-backend-wasm's own factory for 'wasm' (its single-threaded build in Node), kept to come back to. */
let builtinFactory: (() => tf.KernelBackend | Promise<tf.KernelBackend>) | undefined;
/** The thread count the registered 'wasm' factory starts with. */
let registeredThreads = 1;

/**
 * Parses a thread count given as text (a command-line flag, an environment variable): a whole number ≥ 1.
 * `source` names where it came from in the error.
 */
export function parseThreads(value: string, source: string): number {
  const n = Number(value.trim());
  if (value.trim() === "" || !Number.isInteger(n) || n < 1) {
    const { count } = availableCores();
    throw new Error(
      `${source}: "${value}" is not a thread count; give a whole number from 1 to ${MAX_THREADS} (1 = single-threaded), or leave it out for all cores (${count} here)`,
    );
  }
  return n;
}

/**
 * Makes tfjs's wasm backend the active one, fit for training: `threads` threads (in Node, its
 * multi-threaded SIMD build brought up on worker_threads; see threads/node.ts), and the kernels
 * training needs (registerWasmTrainingKernels). Where the threaded build cannot start, runs on one
 * thread and says why in `notes`. Calling it again with another count restarts the backend (tensors
 * on it are lost). Throws if tfjs cannot start the wasm backend at all.
 */
export async function setupWasm(options: WasmOptions = {}): Promise<WasmEngine> {
  const notes: string[] = [];
  let threads = options.threads ?? availableCores().count;
  if (!Number.isInteger(threads) || threads < 1) throw new Error(`threads: ${threads} is not a whole number ≥ 1`);
  if (threads > MAX_THREADS) {
    notes.push(`${threads} threads asked; the wasm engine runs at most ${MAX_THREADS}: using ${MAX_THREADS}`);
    threads = MAX_THREADS;
  }
  builtinFactory ??= tf.findBackendFactory("wasm") ?? undefined;
  if (!builtinFactory)
    throw new Error("the wasm backend is not registered: is @tensorflow/tfjs-backend-wasm@4.22.0 installed?");

  if (threads > 1 && canRunThreads) {
    if (registeredThreads !== threads) {
      try {
        const module = await threadedModule(threads, options.threadedModule);
        register(threads, () => {
          setThreadsCount(threads);
          const backend = new BackendWasm(module);
          letProcessExit(module);
          return backend;
        });
      } catch (error) {
        notes.push(`the threaded wasm build did not start (${(error as Error).message}): running on 1 thread`);
        threads = 1;
      }
    }
  } else if (threads > 1) {
    // A browser: tfjs starts its threaded build itself where the page is cross-origin isolated.
    setThreadsCount(threads);
  }
  if (threads === 1) {
    setThreadsCount(1);
    // tfjs's single-threaded SIMD build, as in Node: in a cross-origin isolated page tfjs would otherwise start
    // its threaded build even for 1 thread, whose shared memory and atomics cost LeNet ~25% of its speed.
    tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
    if (registeredThreads !== 1) register(1, builtinFactory);
  }

  if (!(await tf.setBackend("wasm"))) throw new Error("tfjs could not start the wasm backend");
  await tf.ready();
  const addedKernels = registerWasmTrainingKernels();
  const simd = Boolean(await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT"));
  const running = getThreadsCount();
  if (running !== threads && threads > 1) notes.push(`${threads} threads asked; the wasm backend runs ${running}`);
  return {
    threads: running,
    simd,
    description: `wasm (${simd ? "simd" : "no simd"}, ${running} thread${running === 1 ? "" : "s"})`,
    addedKernels,
    notes,
  };
}

/**
 * Makes `factory` the one 'wasm' starts with. (Not `tf.findBackend`, which starts the registered factory
 * when no backend of that name runs yet: a second wasm instance.)
 */
function register(threads: number, factory: () => tf.KernelBackend | Promise<tf.KernelBackend>): void {
  if (tf.findBackendFactory("wasm")) tf.removeBackend("wasm");
  tf.registerBackend("wasm", factory, 2);
  registeredThreads = threads;
}
