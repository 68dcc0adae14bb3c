/**
 * tfjs-backend-wasm's multi-threaded SIMD build (XNNPACK on a pthreads threadpool) brought up in Node.
 *
 * tfjs switches that build off in Node (`WASM_HAS_MULTITHREAD_SUPPORT` is false there, tfjs #3830), yet
 * its Emscripten glue runs there on `worker_threads` given three things tfjs's own `init()` gives it only
 * in a browser: the pthread worker script as a file (tfjs ships it as the string `wasmWorkerContents`),
 * the glue itself as a file the workers load (`mainScriptUrlOrBlob`), and a thread count the C side
 * accepts (it caps the pool at half the logical cores Emscripten reports, so on 2 cores it would run 1).
 * Three one-line changes to the glue, applied to the copy written out here, make the count and the
 * workers ours: `Module.logicalCores` answers `emscripten_num_logical_cores`, `Module.Worker` creates
 * the workers, so that a worker that fails to start rejects the setup instead of hanging it, and
 * `Module.pthreadPoolSize` preallocates as many workers as the pool needs instead of 8 (each worker is
 * a V8 isolate: 8 of them cost LeNet ~0.12 GB of resident memory at 2 threads).
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { availableParallelism, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Worker } from "node:worker_threads";
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";

const require = createRequire(import.meta.url);

/** The Emscripten module a BackendWasm is made on. */
export type BackendWasmModule = ConstructorParameters<typeof BackendWasm>[0];

/** How many threads `threads: undefined` means, and how that was counted. */
export interface CoreCount {
  count: number;
  how: string;
}

/**
 * The cores this process may use: `os.availableParallelism()` (the CPUs its affinity mask allows:
 * taskset, a container's cpuset), lowered to a cgroup CPU quota where one is set (`docker --cpus 2`
 * leaves all the host's CPUs visible but gives the container 2 CPUs' worth of time).
 */
export function availableCores(): CoreCount {
  const parallelism = availableParallelism();
  const quota = cgroupQuota();
  if (quota !== undefined && quota < parallelism) {
    return { count: quota, how: `cgroup CPU quota ${quota} (of ${parallelism} available CPUs)` };
  }
  return { count: parallelism, how: `os.availableParallelism() = ${parallelism}` };
}

/** A cgroup CPU quota in whole CPUs (rounded up), or undefined when none is set or readable. */
function cgroupQuota(): number | undefined {
  const read = (path: string) => {
    try {
      return readFileSync(path, "utf8").trim();
    } catch {
      return undefined;
    }
  };
  const v2 = read("/sys/fs/cgroup/cpu.max"); // "max 100000" or "200000 100000"
  if (v2) {
    const [quota, period] = v2.split(/\s+/);
    if (quota !== "max" && Number(period) > 0) return Math.max(1, Math.ceil(Number(quota) / Number(period)));
    return undefined;
  }
  const quota = Number(read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"));
  const period = Number(read("/sys/fs/cgroup/cpu/cpu.cfs_period_us"));
  if (quota > 0 && period > 0) return Math.max(1, Math.ceil(quota / period));
  return undefined;
}

/** The edits to the glue: [what tfjs 4.22 ships, what it becomes]. */
const GLUE_EDITS: readonly [string, string][] = [
  [
    'function _emscripten_num_logical_cores(){if(ENVIRONMENT_IS_NODE)return require("os").cpus().length;',
    'function _emscripten_num_logical_cores(){if(Module["logicalCores"])return Module["logicalCores"];if(ENVIRONMENT_IS_NODE)return require("os").cpus().length;',
  ],
  ["worker=new Worker(pthreadMainJs)", 'worker=new(Module["Worker"]||Worker)(pthreadMainJs)'],
  ["var pthreadPoolSize=8;", 'var pthreadPoolSize=Module["pthreadPoolSize"]||8;'],
];

interface ThreadedFiles {
  glue: string;
  worker: string;
  binary: string;
}

/**
 * Writes the edited glue and the worker script once per content (a directory named by their hash under
 * the system temp directory, files written to a temporary name and renamed), and returns their paths.
 */
function threadedFiles(): ThreadedFiles {
  const wasmOut = join(dirname(require.resolve("@tensorflow/tfjs-backend-wasm/package.json")), "wasm-out");
  let glue = readFileSync(join(wasmOut, "tfjs-backend-wasm-threaded-simd.js"), "utf8");
  for (const [from, to] of GLUE_EDITS) {
    if (!glue.includes(from)) {
      throw new Error(
        `tfjs-backend-wasm's threaded glue (wasm-out/tfjs-backend-wasm-threaded-simd.js) lacks "${from.slice(0, 40)}…": @convnets/wasm knows the one of @tensorflow/tfjs-backend-wasm 4.22.0`,
      );
    }
    glue = glue.replace(from, to);
  }
  const { wasmWorkerContents } = require(join(wasmOut, "tfjs-backend-wasm-threaded-simd.worker.js")) as {
    wasmWorkerContents: string;
  };
  // As tfjs's init() does for its Blob: the string's "\n" escapes were unescaped by the JS string literal.
  const worker = wasmWorkerContents.replace(/\n/g, "\\n");
  const hash = createHash("sha256").update(glue).update(worker).digest("hex").slice(0, 16);
  const dir = join(tmpdir(), `convnets-wasm-threads-${hash}`);
  mkdirSync(dir, { recursive: true });
  const files = { glue: join(dir, "glue.cjs"), worker: join(dir, "worker.cjs") };
  for (const [path, text] of [
    [files.glue, glue],
    [files.worker, worker],
  ] as const) {
    if (existsSync(path) && readFileSync(path, "utf8") === text) continue;
    const temporary = `${path}.${process.pid}.tmp`;
    writeFileSync(temporary, text);
    renameSync(temporary, path);
  }
  return { ...files, binary: join(wasmOut, "tfjs-backend-wasm-threaded-simd.wasm") };
}

/** Options for tests: a worker script that cannot start, a shorter wait. */
export interface ThreadedModuleOptions {
  workerScript?: string;
  startTimeoutMs?: number;
}

/**
 * Instantiates the threaded SIMD build with a pool sized for `threads` (1..8, see setup.ts) and resolves to
 * its module, ready for `new BackendWasm(module)` after `setThreadsCount(threads)`. Rejects, naming the
 * worker, when a pthread worker fails to start, and after `startTimeoutMs` (30 s) without all of them.
 */
export async function threadedModule(threads: number, options: ThreadedModuleOptions = {}): Promise<BackendWasmModule> {
  const files = threadedFiles();
  const workerScript = options.workerScript ?? files.worker;
  const factory = require(files.glue) as (config: object) => Promise<BackendWasmModule>;
  let fail: (error: Error) => void = () => {};
  const failed = new Promise<never>((_, reject) => {
    fail = reject;
  });
  failed.catch(() => {}); // awaited in the race below; a failure after the start is thrown by the worker instead
  let started = 0;
  let ready = false;
  /** The glue's workers, each reporting a failure to start to this setup instead of throwing it from an event. */
  class PthreadWorker extends Worker {
    #onerror: ((e: unknown) => void) | undefined;
    readonly index = ++started;
    constructor(script: string) {
      super(script);
      this.once("exit", (code) => {
        if (!(this as unknown as { loaded?: boolean }).loaded) {
          fail(new Error(`wasm pthread worker ${this.index} (${script}) exited with code ${code} before it started`));
        }
      });
    }
    get onerror() {
      return this.#onerror;
    }
    set onerror(handler: ((e: unknown) => void) | undefined) {
      this.#onerror = (e: unknown) => {
        const error = new Error(
          `wasm pthread worker ${this.index} (${workerScript}) failed: ${(e as Error)?.message ?? e}`,
        );
        // After the start, nothing awaits this setup: end with the error rather than leave a thread missing.
        if (ready) throw error;
        fail(error);
        try {
          handler?.(e);
        } catch {
          // The glue rethrows the error from the event handler, which would end the process: reported above.
        }
      };
    }
  }
  const timeoutMs = options.startTimeoutMs ?? 30_000;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`the ${threads} wasm pthread workers did not start within ${timeoutMs / 1000} s`)),
      timeoutMs,
    );
  });
  const config = {
    locateFile: (path: string, prefix: string) =>
      path.endsWith(".worker.js") ? workerScript : path.endsWith(".wasm") ? files.binary : prefix + path,
    mainScriptUrlOrBlob: files.glue,
    logicalCores: 2 * threads,
    // XNNPACK's pool runs threads − 1 workers beside the calling thread; they must all be loaded before
    // the pool starts (the main thread then waits in WebAssembly and cannot load one), so one spare.
    pthreadPoolSize: threads,
    Worker: PthreadWorker,
    onAbort: (what: unknown) => fail(new Error(`the threaded wasm build aborted: ${String(what)}`)),
  };
  // The glue adds process listeners that rethrow any uncaught error from inside its own (minified, 100 kB)
  // line, so that Node prints that line with every crash of the program: they go once it has started.
  const listening = {
    uncaughtException: process.listeners("uncaughtException"),
    unhandledRejection: process.listeners("unhandledRejection"),
  };
  try {
    const module = await Promise.race([factory(config), failed, timeout]);
    ready = true;
    for (const listener of process.listeners("uncaughtException")) {
      if (!listening.uncaughtException.includes(listener)) process.removeListener("uncaughtException", listener);
    }
    for (const listener of process.listeners("unhandledRejection")) {
      if (!listening.unhandledRejection.includes(listener)) process.removeListener("unhandledRejection", listener);
    }
    const { cwrap } = module as unknown as { cwrap: (name: string, returns: string | null, args: string[]) => never };
    module.tfjs = {
      init: cwrap("init", null, []),
      initWithThreadsCount: cwrap("init_with_threads_count", null, ["number"]),
      getThreadsCount: cwrap("get_threads_count", "number", []),
      registerTensor: cwrap("register_tensor", null, ["number", "number", "number"]),
      disposeData: cwrap("dispose_data", null, ["number"]),
      dispose: cwrap("dispose", null, []),
    };
    return module;
  } finally {
    clearTimeout(timer);
  }
}

export const canRunThreads = true;

/**
 * Lets the process exit while the threadpool's workers wait for work: the glue keeps a worker referenced
 * (Node waits for it) from the moment it runs a thread, and the pool's threads run until the backend goes.
 * Call once the backend has made its pool.
 */
export function letProcessExit(module: BackendWasmModule): void {
  const pthreads = (module as unknown as { PThread?: { runningWorkers?: Worker[] } }).PThread;
  for (const worker of pthreads?.runningWorkers ?? []) worker.unref();
}
