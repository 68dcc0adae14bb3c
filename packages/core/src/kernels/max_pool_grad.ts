import {
  backend_util,
  type KernelConfig,
  type KernelFunc,
  MaxPoolGrad,
  type MaxPoolGradAttrs,
  type TensorInfo,
} from "@tensorflow/tfjs-core";
import type { WasmBackend } from "./wasm.js";

/**
 * dx of max pooling (NHWC): each dy goes to the first largest input of its window, as on the cpu
 * backend and in TensorFlow.
 *
 * tfjs-backend-wasm 4.22's MaxPoolGrad starts its running maximum at `numeric_limits<float>::min()`
 * (the smallest positive float, not the lowest), so a window whose inputs are all ≤ 0 keeps a stale
 * position and its gradient is lost or sent to another element; ties go to the last maximum. On random
 * inputs of both signs its dx is 5–70% off the cpu backend's (max-norm relative error; see the tests).
 * This JavaScript loop is also about twice as fast (bench/kernels.ts).
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
  const { strideHeight, strideWidth, effectiveFilterHeight, effectiveFilterWidth, dilationHeight, dilationWidth } = pool;
  const top = pool.padInfo.top;
  const left = pool.padInfo.left;

  const dx = wasm.makeOutput(input.shape, "float32");
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

export const maxPoolGradConfig: KernelConfig = { kernelName: MaxPoolGrad, backendName: "wasm", kernelFunc: maxPoolGrad };
