import {
  AvgPoolGrad,
  type AvgPoolGradAttrs,
  backend_util,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from "@tensorflow/tfjs-core";
import type { WasmBackend } from "./wasm.js";

/**
 * dx of average pooling (NHWC) for windows that tile the input: window = stride, no padding (LeNet's
 * and DenseNet's 2×2 stride 2). Each dy/(k·k) is copied to its k×k window: a row of windows is written
 * once and copied k−1 times. tfjs-backend-wasm 4.22's AvgPoolGrad is a general scalar loop that
 * bench/kernels.ts measures 6–15× slower on LeNet's shapes; overlapping or padded windows still go to it.
 */
export function makeAvgPoolGrad(builtin: KernelFunc | undefined): KernelFunc {
  return (args) => {
    const wasm = args.backend as WasmBackend;
    const { dy, input } = args.inputs as { dy: TensorInfo; input: TensorInfo };
    const { filterSize, strides, pad } = args.attrs as unknown as AvgPoolGradAttrs;
    const pool = backend_util.computePool2DInfo(
      input.shape as [number, number, number, number],
      filterSize,
      strides,
      1,
      pad,
    );
    const { filterHeight: kh, filterWidth: kw, strideHeight, strideWidth, padInfo } = pool;
    const tiles =
      kh === strideHeight &&
      kw === strideWidth &&
      padInfo.top === 0 &&
      padInfo.left === 0 &&
      pool.outHeight * kh <= pool.inHeight &&
      pool.outWidth * kw <= pool.inWidth &&
      dy.dtype === "float32";
    if (!tiles) {
      if (builtin) return builtin(args);
      throw new Error(
        `AvgPoolGrad on wasm: the built-in kernel is missing for ${kh}×${kw} windows, strides ${strides}`,
      );
    }
    const { batchSize, inHeight, inWidth, inChannels: channels, outHeight, outWidth } = pool;
    const dx = wasm.makeOutput(input.shape, "float32");
    const gradient = wasm.typedArrayFromHeap(dy);
    const out = wasm.typedArrayFromHeap(dx);
    // Rows and columns past the last whole window get no gradient.
    if (outHeight * kh !== inHeight || outWidth * kw !== inWidth) out.fill(0);
    const scale = 1 / (kh * kw);
    const rowLength = inWidth * channels;
    const bandLength = outWidth * kw * channels;
    let from = 0;
    for (let b = 0; b < batchSize; b++) {
      for (let i = 0; i < outHeight; i++) {
        const band = (b * inHeight + i * kh) * rowLength;
        let to = band;
        for (let j = 0; j < outWidth; j++, from += channels) {
          for (let v = 0; v < kw; v++, to += channels) {
            for (let c = 0; c < channels; c++) out[to + c] = (gradient[from + c] as number) * scale;
          }
        }
        for (let u = 1; u < kh; u++) out.copyWithin(band + u * rowLength, band, band + bandLength);
      }
    }
    return dx;
  };
}

export function avgPoolGradConfig(builtin: KernelFunc | undefined): KernelConfig {
  return { kernelName: AvgPoolGrad, backendName: "wasm", kernelFunc: makeAvgPoolGrad(builtin) };
}
