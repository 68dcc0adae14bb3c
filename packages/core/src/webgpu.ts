import { execFile } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { registerWebgpuTrainingKernels } from "@convnets/webgpu";
import * as tf from "@tensorflow/tfjs-core";

/**
 * The webgpu engine: `@tensorflow/tfjs-backend-webgpu` on Dawn's Node binding (the `webgpu` package, an
 * optional peer: 132 MB with every platform's `dawn.node`). Works with any GPU Dawn drives: Metal on
 * macOS, D3D12 on Windows, Vulkan on Linux (a Vulkan driver must be installed there).
 */

/** What Dawn says about the adapter it found (WebGPU's `GPUAdapterInfo`). */
export interface AdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A software rasteriser (lavapipe/llvmpipe, SwiftShader): correct, slower than the wasm engine. */
  software: boolean;
  /** Dawn's backend: `metal`, `d3d12`, `vulkan` (or `opengles` when asked for with `CONVNETS_DAWN_BACKEND`). */
  backend: string;
}

/** The outcome of trying the webgpu engine: set up, or why not (one line). */
export type WebgpuAttempt =
  | { ok: true; adapter: AdapterInfo; description: string; addedKernels: string[] }
  | { ok: false; installed: boolean; reason: string; noAdapter?: boolean };

export const WEBGPU_INSTALL_HINT =
  "install webgpu@0.6.2 (Dawn's Node binding, 132 MB) next to convnets; on Linux also a Vulkan driver (Mesa's mesa-vulkan-drivers, or the GPU vendor's)";

interface Gpu {
  requestAdapter(options?: Record<string, unknown>): Promise<GpuAdapter | null>;
}
interface GpuAdapter {
  info: Omit<AdapterInfo, "software" | "backend"> & { isFallbackAdapter?: boolean };
}
interface DawnModule {
  create(flags: string[]): Gpu;
  globals: Record<string, unknown>;
}

const SOFTWARE_ADAPTER = /llvmpipe|lavapipe|swiftshader|softpipe|software/i;

/**
 * Runs `fn` with file descriptor 2 pointed at /dev/null, unless `CONVNETS_DEBUG` is set. Dawn writes its
 * start-up warnings ("maxDynamic…BuffersPerPipelineLayout artificially reduced") to stderr from native code,
 * synchronously inside `create()` and `requestAdapter()`, where no JavaScript hook sees them. Where the swap
 * is not possible (no /proc or /dev/fd), `fn` runs as is.
 */
function quietNative<T>(fn: () => T): T {
  if (process.env.CONVNETS_DEBUG || process.platform === "win32") return fn();
  const fdDir = process.platform === "linux" ? "/proc/self/fd" : "/dev/fd";
  let saved: number;
  try {
    // Only when 0 and 1 are open: then closing 2 makes it the lowest free descriptor, the one reopened.
    const probe = openSync("/dev/null", "a");
    closeSync(probe);
    if (probe < 2) return fn();
    saved = openSync(`${fdDir}/2`, "a");
  } catch {
    return fn();
  }
  closeSync(2);
  const devNull = openSync("/dev/null", "a");
  try {
    return fn();
  } finally {
    closeSync(devNull);
    openSync(`${fdDir}/${saved}`, "a");
    closeSync(saved);
  }
}

function backendOf(flags: string[]): string {
  const asked = flags.find((f) => f.startsWith("backend="))?.slice("backend=".length);
  if (asked) return asked;
  return process.platform === "darwin" ? "metal" : process.platform === "win32" ? "d3d12" : "vulkan";
}

/** `llvmpipe` from "llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)", else Dawn's description or device as it is. */
export function adapterName(info: Pick<AdapterInfo, "vendor" | "device" | "description">): string {
  const text = (info.description || info.device || info.vendor || "unknown adapter").trim();
  return text.split(":")[0]!.trim();
}

/** `webgpu (llvmpipe, vulkan, software)`, `webgpu (Apple M2 Pro, metal)`. */
export function webgpuDescription(adapter: AdapterInfo): string {
  return `webgpu (${[adapterName(adapter), adapter.backend, ...(adapter.software ? ["software"] : [])].join(", ")})`;
}

let dawn: { module: DawnModule; gpu: Gpu; adapter: Promise<GpuAdapter | null>; flags: string[] } | undefined;

/**
 * Dawn's options: its backend when `CONVNETS_DAWN_BACKEND` names one (Dawn's default otherwise), then those in
 * `CONVNETS_DAWN_FLAGS`, space-separated (e.g. `disable-dawn-features=timestamp_quantization` for exact timestamps).
 */
function dawnFlags(): string[] {
  const backend = process.env.CONVNETS_DAWN_BACKEND;
  const extra = process.env.CONVNETS_DAWN_FLAGS?.split(/\s+/).filter(Boolean) ?? [];
  return [...(backend ? [`backend=${backend}`] : []), ...extra];
}

/** Dawn's OpenGL ES backend only offers a compatibility-mode adapter; tfjs asks without a feature level. */
function adapterOptions(): Record<string, unknown> {
  return {
    powerPreference: "high-performance",
    ...(process.env.CONVNETS_DAWN_BACKEND === "opengles" ? { featureLevel: "compatibility" } : {}),
  };
}

function adapterInfo(info: GpuAdapter["info"], flags: string[]): AdapterInfo {
  return {
    vendor: info.vendor ?? "",
    architecture: info.architecture ?? "",
    device: info.device ?? "",
    description: info.description ?? "",
    software:
      info.isFallbackAdapter === true ||
      info.architecture === "software" ||
      SOFTWARE_ADAPTER.test(`${info.description} ${info.device}`),
    backend: backendOf(flags),
  };
}

function passedOver(adapter: AdapterInfo): WebgpuAttempt {
  return {
    ok: false,
    installed: true,
    reason: `passed over ${adapterName(adapter)} (${adapter.backend}), a software adapter: slower than wasm on the same cores; --backend webgpu (or CONVNETS_BACKEND=webgpu) takes it anyway`,
  };
}

function noAdapter(flags: string[]): WebgpuAttempt & { ok: false } {
  const fix =
    process.platform === "linux"
      ? "install a Vulkan driver (mesa-vulkan-drivers, or the GPU vendor's)"
      : "is the GPU driver installed?";
  return {
    ok: false,
    installed: true,
    noAdapter: true,
    reason: `Dawn found no GPU adapter (${backendOf(flags)}): ${fix}`,
  };
}

/**
 * Whether the webgpu engine can start here, asked in a child process (nothing of Dawn loads in this one):
 * undefined where Dawn finds an adapter (a software one too), else why not, in one line. For tests that need
 * an adapter: they skip with this reason on a machine without one.
 */
export async function webgpuUnavailable(): Promise<string | undefined> {
  const probe = await probeInChild();
  if (!probe.ok) return probe.reason;
  return probe.adapter ? undefined : noAdapter(dawnFlags()).reason;
}

/**
 * Loads Dawn in a child Node process and asks it for its adapter: its start-up output goes nowhere (unless
 * `CONVNETS_DEBUG`), and a driver that crashes takes only the child down.
 */
async function probeInChild(): Promise<
  { ok: true; adapter: AdapterInfo | null } | { ok: false; installed: boolean; reason: string }
> {
  let entry: string;
  try {
    entry = createRequire(import.meta.url).resolve("webgpu");
  } catch {
    return { ok: false, installed: false, reason: `the webgpu package is not installed: ${WEBGPU_INSTALL_HINT}` };
  }
  const flags = dawnFlags();
  const script = [
    `const { create } = await import(${JSON.stringify(pathToFileURL(entry).href)});`,
    `const adapter = await create(${JSON.stringify(flags)}).requestAdapter(${JSON.stringify(adapterOptions())});`,
    "const i = adapter?.info;",
    "process.stdout.write(JSON.stringify(i ? { vendor: i.vendor, architecture: i.architecture, device: i.device, description: i.description, isFallbackAdapter: i.isFallbackAdapter } : null));",
    "process.exit(0);",
  ].join("\n");
  const result = await new Promise<{
    error: (Error & { signal?: string | null }) | null;
    stdout: string;
    stderr: string;
  }>((resolve) => {
    execFile(
      process.execPath,
      ["--input-type=module", "-e", script],
      { timeout: 60_000, encoding: "utf8" },
      (error, stdout, stderr) => resolve({ error, stdout, stderr }),
    );
  });
  if (process.env.CONVNETS_DEBUG && result.stderr) process.stderr.write(result.stderr);
  if (result.error) {
    const why = result.error.signal
      ? `it died of ${result.error.signal}`
      : firstLine(result.stderr.split("\n").find((line) => /Error/.test(line)) ?? result.error.message);
    return {
      ok: false,
      installed: true,
      reason: `Dawn (webgpu package) failed to load on ${process.platform}-${process.arch}: ${why}`,
    };
  }
  try {
    const info = JSON.parse(result.stdout) as GpuAdapter["info"] | null;
    return { ok: true, adapter: info && adapterInfo(info, flags) };
  } catch {
    return { ok: false, installed: true, reason: `Dawn's adapter probe answered no JSON: ${firstLine(result.stdout)}` };
  }
}

/** Loads Dawn and finds its adapter, once per process (Dawn enumerates adapters, and warns, once). */
async function findAdapter(): Promise<
  { adapter: GpuAdapter | null; flags: string[] } | { installed: boolean; reason: string }
> {
  if (!dawn) {
    let module: DawnModule;
    try {
      module = (await import("webgpu")) as unknown as DawnModule;
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const missing = e.code === "ERR_MODULE_NOT_FOUND" && /'webgpu'/.test(e.message);
      return missing
        ? { installed: false, reason: `the webgpu package is not installed: ${WEBGPU_INSTALL_HINT}` }
        : {
            installed: true,
            reason: `Dawn (webgpu package) failed to load on ${process.platform}-${process.arch}: ${firstLine(e.message)}`,
          };
    }
    const flags = dawnFlags();
    let gpu: Gpu;
    let adapter: Promise<GpuAdapter | null>;
    try {
      gpu = quietNative(() => module.create(flags));
      adapter = quietNative(() => gpu.requestAdapter(adapterOptions()));
    } catch (err) {
      return { installed: true, reason: `Dawn could not start: ${firstLine((err as Error).message)}` };
    }
    dawn = { module, gpu, adapter, flags };
  }
  try {
    return { adapter: await dawn.adapter, flags: dawn.flags };
  } catch (err) {
    return { installed: true, reason: `Dawn found no adapter: ${firstLine((err as Error).message)}` };
  }
}

/**
 * Sets WebGPU's globals and `navigator.gpu`, which must exist before tfjs's webgpu backend is imported (it
 * registers itself at import only then). Its `requestAdapter` hands tfjs the adapter already found.
 */
function exposeToTfjs(found: NonNullable<typeof dawn>): void {
  Object.assign(globalThis, found.module.globals);
  const navigatorGpu = {
    requestAdapter: () => found.adapter,
    getPreferredCanvasFormat: () => "rgba8unorm",
    get wgslLanguageFeatures() {
      return (found.gpu as unknown as { wgslLanguageFeatures?: unknown }).wgslLanguageFeatures;
    },
  };
  const existing = (globalThis as { navigator?: object }).navigator;
  if (existing && Object.isExtensible(existing)) {
    Object.defineProperty(existing, "gpu", { value: navigatorGpu, configurable: true, writable: true });
  } else {
    // Node ≥ 21 has a navigator of its own, read-only on globalThis; a defined property replaces it.
    Object.defineProperty(globalThis, "navigator", {
      value: { gpu: navigatorGpu },
      configurable: true,
      writable: true,
    });
  }
}

function firstLine(text: string): string {
  return text.split("\n")[0]!.trim();
}

/**
 * Tries the webgpu engine. With `allowSoftware` false (engine `auto`), a software adapter is passed over:
 * the wasm engine is faster on the same CPU. On success `webgpu` is the active tfjs backend.
 */
export async function tryWebgpu(allowSoftware: boolean): Promise<WebgpuAttempt> {
  if (!allowSoftware && !dawn) {
    // auto: look in a child process first, so that a software adapter (or a crashing driver) never loads here.
    const probe = await probeInChild();
    if (!probe.ok) return probe;
    if (!probe.adapter) return noAdapter(dawnFlags());
    if (probe.adapter.software) return passedOver(probe.adapter);
  }
  const found = await findAdapter();
  if ("reason" in found) return { ok: false, installed: found.installed, reason: found.reason };
  if (!found.adapter) return noAdapter(found.flags);
  const adapter = adapterInfo(found.adapter.info, found.flags);
  const description = webgpuDescription(adapter);
  if (adapter.software && !allowSoftware) return passedOver(adapter);
  exposeToTfjs(dawn!);
  try {
    await import("@tensorflow/tfjs-backend-webgpu");
  } catch (err) {
    return {
      ok: false,
      installed: true,
      reason: `@tensorflow/tfjs-backend-webgpu failed to load: ${firstLine((err as Error).message)}`,
    };
  }
  if (!tf.findBackendFactory("webgpu") || !(await tf.setBackend("webgpu"))) {
    return { ok: false, installed: true, reason: `tfjs's webgpu backend did not start on ${description}` };
  }
  await tf.ready();
  const addedKernels = registerWebgpuTrainingKernels();
  return { ok: true, adapter, description, addedKernels };
}
