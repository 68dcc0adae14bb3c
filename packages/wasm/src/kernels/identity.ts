import { Identity, type KernelConfig, type KernelFunc, type TensorInfo } from "@tensorflow/tfjs-core";
import type { WasmBackend } from "./wasm.js";

/**
 * Identity that shares its input's memory (one more reference to the same data), as the cpu backend's
 * does. tfjs-backend-wasm 4.22 copies the data instead; the gradient tape runs Identity for every
 * gradient passed through unchanged (147 calls per LeNet-BN step), so those copies cost time and,
 * held by the tape, heap: ResNet-18 at batch 32 peaked at 1,476 MB with the copying kernel, 1,178 MB
 * without. Sharing is safe because no wasm kernel writes into its inputs. Strings go to the built-in kernel.
 */
export function makeIdentity(builtin: KernelFunc | undefined): KernelFunc {
  return (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    if (x.dtype === "string") {
      if (builtin) return builtin(args);
      throw new Error("Identity on wasm: string tensors need the built-in kernel");
    }
    (args.backend as WasmBackend).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
}

export function identityConfig(builtin: KernelFunc | undefined): KernelConfig {
  return { kernelName: Identity, backendName: "wasm", kernelFunc: makeIdentity(builtin) };
}
