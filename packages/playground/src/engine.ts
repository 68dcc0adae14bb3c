import { setupWasm } from "@convnets/wasm";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import "@tensorflow/tfjs-backend-webgl";
import "@tensorflow/tfjs-backend-webgpu";
import plainWasm from "@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm.wasm?url";
import simdWasm from "@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-simd.wasm?url";
import threadedSimdWasm from "@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.wasm?url";
import * as tf from "@tensorflow/tfjs-core";

export const PAGE_ENGINES = ["wasm", "webgl", "webgpu"] as const;
export type PageEngine = (typeof PAGE_ENGINES)[number];

// The .wasm files as Vite serves them (hashed names in a build), not next to tfjs's script.
setWasmPaths({
  "tfjs-backend-wasm.wasm": plainWasm,
  "tfjs-backend-wasm-simd.wasm": simdWasm,
  "tfjs-backend-wasm-threaded-simd.wasm": threadedSimdWasm,
});

/** The engine the page runs on, and one line saying what it is. */
export interface StartedEngine {
  name: PageEngine;
  description: string;
}

/**
 * Starts an engine. wasm runs with convnets' training kernels (@convnets/wasm), threaded where the page is
 * cross-origin isolated (SharedArrayBuffer: tfjs's threaded build), else on 1 thread, with the reason.
 */
export async function startEngine(name: PageEngine): Promise<StartedEngine> {
  if (name === "wasm") {
    const isolated = globalThis.crossOriginIsolated === true;
    // tfjs's threaded build runs at most half the logical cores the browser reports; where that is 1, its
    // single-threaded build is faster (no shared memory, no atomics).
    const threads = isolated ? Math.max(1, Math.floor((navigator.hardwareConcurrency || 1) / 2)) : 1;
    const engine = await setupWasm({ threads });
    const notes = [...engine.notes];
    if (!isolated) notes.push("1 thread: the page is not cross-origin isolated (no SharedArrayBuffer)");
    return { name, description: [engine.description, ...notes].join("; ") };
  }
  if (name === "webgpu" && !("gpu" in navigator)) {
    throw new Error(
      "webgpu: this browser has no navigator.gpu (WebGPU is off or unsupported here); pick webgl or wasm",
    );
  }
  let started = false;
  try {
    started = await tf.setBackend(name);
  } catch (err) {
    throw new Error(`${name}: the engine did not start (${(err as Error).message}); pick another engine`);
  }
  if (!started) throw new Error(`${name}: the engine did not start in this browser; pick another engine`);
  await tf.ready();
  return { name, description: describe(name) };
}

function describe(name: PageEngine): string {
  if (name === "webgl") {
    const version = tf.env().getNumber("WEBGL_VERSION");
    const gl = (tf.backend() as unknown as { gpgpu?: { gl?: WebGLRenderingContext } }).gpgpu?.gl;
    const info = gl?.getExtension("WEBGL_debug_renderer_info");
    const renderer = info ? gl!.getParameter(info.UNMASKED_RENDERER_WEBGL) : undefined;
    return `webgl ${version}${renderer ? ` (${renderer})` : ""}`;
  }
  const adapter = (tf.backend() as unknown as { adapterInfo?: { vendor?: string; architecture?: string } }).adapterInfo;
  return `webgpu${adapter?.vendor ? ` (${[adapter.vendor, adapter.architecture].filter(Boolean).join(" ")})` : ""}`;
}
