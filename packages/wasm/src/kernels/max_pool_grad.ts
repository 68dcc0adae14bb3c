import {
  backend_util,
  type KernelConfig,
  type KernelFunc,
  MaxPoolGrad,
  type MaxPoolGradAttrs,
  type TensorInfo,
  util,
} from "@tensorflow/tfjs-core";
import { heapOffset, release, type WasmBackend } from "./wasm.js";
import { wasmSimdKernels } from "./wasm_simd.js";

/**
 * dx of max pooling (NHWC): each dy goes to the first largest input of its window, as on the cpu
 * backend and in TensorFlow.
 *
 * tfjs-backend-wasm 4.22's MaxPoolGrad starts its running maximum at `numeric_limits<float>::min()`
 * (the smallest positive float, not the lowest), so a window whose inputs are all ≤ 0 keeps a stale
 * position and its gradient is lost or sent to another element; ties go to the last maximum. On random
 * inputs of both signs its dx is 5–70% off the cpu backend's (max-norm relative error; see the tests).
 *
 * Ours: taps visited row by row, a strict `>` from −∞ (ties keep the first maximum, NaN never wins,
 * and a window with no winner drops its gradient, as on the cpu backend). Where the channels are a
 * multiple of 4, a WebAssembly SIMD loop on the backend's heap (wasm_simd.ts) compares 4 channels at
 * a time: 8–15× faster than the JavaScript loop, which stays for other channel counts and engines
 * without SIMD, and gives the same bits (bench/kernels.ts, GoogLeNet's pools on ReLU outputs: 19.5 →
 * 1.3 ms for [32,6,6,512] 3×3 stride 1, 53 → 5 ms for [32,50,50,64] 3×3 stride 2; the forward MaxPool
 * takes 0.6 and 2 ms).
 */
export const maxPoolGrad: KernelFunc = ({ inputs, backend, attrs }) => {
  const wasm = backend as WasmBackend;
  const { dy, input } = inputs as { dy: TensorInfo; input: TensorInfo };
  const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as MaxPoolGradAttrs;
  const pool = backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    filterSize,
    strides,
    1,
    pad,
    dimRoundingMode,
  );
  const { batchSize, inHeight, inWidth, inChannels: channels, outHeight, outWidth } = pool;
  const { strideHeight, strideWidth, effectiveFilterHeight, effectiveFilterWidth, dilationHeight, dilationWidth } =
    pool;
  const top = pool.padInfo.top;
  const left = pool.padInfo.left;

  const dx = wasm.makeOutput(input.shape, "float32");
  const simd = channels % 4 === 0 && util.sizeFromShape(dy.shape) > 0 ? wasmSimdKernels(wasm) : undefined;
  if (simd) {
    const scratch = wasm.makeOutput([2 * channels], "float32");
    // Views after the last makeOutput: allocating may grow (and so detach) the wasm heap.
    wasm.typedArrayFromHeap(dx).fill(0);
    simd.maxPoolGrad(
      heapOffset(wasm, input),
      heapOffset(wasm, dy),
      heapOffset(wasm, dx),
      heapOffset(wasm, scratch),
      batchSize,
      inHeight,
      inWidth,
      channels,
      outHeight,
      outWidth,
      pool.filterHeight,
      pool.filterWidth,
      strideHeight,
      strideWidth,
      top,
      left,
    );
    release(wasm, scratch);
    return dx;
  }
  const x = wasm.typedArrayFromHeap(input);
  const gradient = wasm.typedArrayFromHeap(dy);
  const out = wasm.typedArrayFromHeap(dx);
  out.fill(0);
  // Running maximum of each channel of the current window; channels are contiguous in NHWC.
  const best = new Float32Array(channels);
  const where = new Int32Array(channels);
  let dyOffset = 0;
  for (let b = 0; b < batchSize; b++) {
    const image = b * inHeight * inWidth * channels;
    for (let oh = 0; oh < outHeight; oh++) {
      const rowStart = oh * strideHeight - top;
      for (let ow = 0; ow < outWidth; ow++, dyOffset += channels) {
        const colStart = ow * strideWidth - left;
        best.fill(Number.NEGATIVE_INFINITY);
        where.fill(-1);
        for (let fh = 0; fh < effectiveFilterHeight; fh += dilationHeight) {
          const ih = rowStart + fh;
          if (ih < 0 || ih >= inHeight) continue;
          for (let fw = 0; fw < effectiveFilterWidth; fw += dilationWidth) {
            const iw = colStart + fw;
            if (iw < 0 || iw >= inWidth) continue;
            const pixel = image + (ih * inWidth + iw) * channels;
            for (let c = 0; c < channels; c++) {
              const value = x[pixel + c] as number;
              if (value > (best[c] as number)) {
                best[c] = value;
                where[c] = pixel + c;
              }
            }
          }
        }
        for (let c = 0; c < channels; c++) {
          const position = where[c] as number;
          // -1: every input of the window was NaN (the cpu backend drops that gradient too).
          if (position >= 0) out[position] += gradient[dyOffset + c] as number;
        }
      }
    }
  }
  return dx;
};

export const maxPoolGradConfig: KernelConfig = {
  kernelName: MaxPoolGrad,
  backendName: "wasm",
  kernelFunc: maxPoolGrad,
};
