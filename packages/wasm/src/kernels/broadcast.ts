import {
  Add,
  type KernelConfig,
  type KernelFunc,
  Multiply,
  RealDiv,
  Sub,
  type TensorInfo,
  util,
} from "@tensorflow/tfjs-core";
import { release, type WasmBackend } from "./wasm.js";

/** Below this many channels, a per-channel broadcast is repeated to a longer row first. */
const SHORT_ROW = 64;

/**
 * Add, Sub, Multiply and RealDiv of a tensor [..., C] with a per-channel vector [C] (or [1, …, 1, C])
 * when C is small: BatchNorm's scale and shift and their gradients on LeNet-BN's 6 and 16 channels.
 * tfjs-backend-wasm 4.22 broadcasts row by row, so a row of 6 costs 8× the time of the same
 * elementwise op without broadcasting (2.9 vs 0.37 ms on [256, 28, 28, 6]). Here the vector is
 * repeated k times and the tensor viewed as [P/k, k·C] (k divides the P rows), so the built-in
 * kernel runs on rows of k·C ≥ 64: the same arithmetic on the same values, so the same result bit
 * for bit. Every other case goes to the built-in kernel.
 */
export function makeChannelBroadcast(builtin: KernelFunc): KernelFunc {
  return (args) => {
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    const vectorSide = channelVector(a, b) ? "b" : channelVector(b, a) ? "a" : undefined;
    if (!vectorSide) return builtin(args);
    const full = vectorSide === "b" ? a : b;
    const vector = vectorSide === "b" ? b : a;
    const channels = full.shape[full.shape.length - 1] as number;
    const rows = util.sizeFromShape(full.shape) / channels;
    const repeat = repeatCount(rows, channels);
    if (repeat === 1) return builtin(args);
    const backend = args.backend as WasmBackend;
    const row = backend.makeOutput([repeat * channels], "float32");
    const src = backend.typedArrayFromHeap(vector);
    const dst = backend.typedArrayFromHeap(row);
    for (let r = 0; r < repeat; r++) dst.set(src, r * channels);
    const view = { ...full, shape: [rows / repeat, repeat * channels] };
    const inputs = vectorSide === "b" ? { a: view, b: row } : { a: row, b: view };
    const out = builtin({ ...args, inputs }) as TensorInfo;
    release(backend, row);
    return { ...out, shape: full.shape };
  };
}

/** Whether `v` is [C] or [1, …, 1, C] for the last axis C of `full`, both float32, `full` larger. */
function channelVector(full: TensorInfo, v: TensorInfo): boolean {
  if (full.dtype !== "float32" || v.dtype !== "float32" || full.shape.length < 2) return false;
  const channels = full.shape[full.shape.length - 1] as number;
  if (channels >= SHORT_ROW || v.shape[v.shape.length - 1] !== channels || v.shape.length > full.shape.length) {
    return false;
  }
  return v.shape.slice(0, -1).every((d) => d === 1) && util.sizeFromShape(full.shape) > channels;
}

/** The smallest k dividing `rows` with k·channels ≥ SHORT_ROW (1 when none up to rows). */
function repeatCount(rows: number, channels: number): number {
  for (let k = Math.ceil(SHORT_ROW / channels); k <= Math.min(rows, 4 * SHORT_ROW); k++) {
    if (rows % k === 0) return k;
  }
  return 1;
}

export function channelBroadcastConfig(kernelName: string, builtin: KernelFunc): KernelConfig {
  return { kernelName, backendName: "wasm", kernelFunc: makeChannelBroadcast(builtin) };
}

export const CHANNEL_BROADCAST_KERNELS = [Add, Sub, Multiply, RealDiv] as const;
