/**
 * Outside Node, tfjs-backend-wasm starts its threaded build itself where the page can run it (cross-origin
 * isolated, so SharedArrayBuffer exists), with the count given to `setThreadsCount`: nothing to do here.
 */
import type { CoreCount, ThreadedModuleOptions } from "./node.js";

export type { CoreCount, ThreadedModuleOptions };
export const canRunThreads = false;

export function availableCores(): CoreCount {
  const count = globalThis.navigator?.hardwareConcurrency ?? 1;
  return { count, how: `navigator.hardwareConcurrency = ${count}` };
}

export async function threadedModule(): Promise<never> {
  throw new Error("@convnets/wasm starts the threaded build itself only in Node");
}

export function letProcessExit(): void {}
