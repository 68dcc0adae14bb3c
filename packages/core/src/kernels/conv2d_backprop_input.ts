import {
  backend_util,
  Conv2DBackpropInput,
  type Conv2DBackpropInputAttrs,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from "@tensorflow/tfjs-core";
import { release, runKernel, type WasmBackend } from "./wasm.js";

/**
 * dx of a 2-D convolution (NHWC) as a forward convolution on the wasm backend's XNNPACK kernel.
 *
 * tfjs-backend-wasm 4.22 has a Conv2DBackpropInput, but it is a scalar C++ loop that bench/kernels.ts
 * measures at 8–12× the time of the forward convolution (LeNet's second layer: ~55 ms per batch of
 * 256, more than a whole PyTorch training step). The gradient with respect to the input is the
 * "full" correlation of dy with the filter turned 180° and its channel axes swapped:
 *   dx[n, ih, iw, ci] = Σ dyₛ[n, ih + pt − (KH−1) + u, iw + pl − (KW−1) + v, co] · W[KH−1−u, KW−1−v, ci, co]
 * where dyₛ is dy with s−1 zeros inserted between its rows and columns when the stride s is above 1.
 * Negative padding (a forward padding wider than the filter) goes to the built-in kernel.
 */
export function makeConv2DBackpropInput(builtin: KernelFunc | undefined): KernelFunc {
  return (args) => {
    const wasm = args.backend as WasmBackend;
    const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
    const { strides, pad, dataFormat, dimRoundingMode, inputShape } = args.attrs as unknown as Conv2DBackpropInputAttrs;
    const format = backend_util.convertConv2DDataFormat(dataFormat);
    const conv = backend_util.computeConv2DInfo(
      inputShape,
      filter.shape as [number, number, number, number],
      strides,
      1,
      pad,
      dimRoundingMode,
      false,
      format,
    );
    const { inHeight, inWidth, outHeight, outWidth, filterHeight, filterWidth, strideHeight, strideWidth } = conv;
    const top = filterHeight - 1 - conv.padInfo.top;
    const left = filterWidth - 1 - conv.padInfo.left;
    const bottom = inHeight - 1 + conv.padInfo.top - strideHeight * (outHeight - 1);
    const right = inWidth - 1 + conv.padInfo.left - strideWidth * (outWidth - 1);
    const supported =
      format === "channelsLast" &&
      dy.dtype === "float32" &&
      filter.dtype === "float32" &&
      Math.min(top, left, bottom, right) >= 0;
    if (!supported) {
      if (builtin) return builtin(args);
      throw new Error(
        `Conv2DBackpropInput on wasm: unsupported case (dataFormat '${dataFormat}', dtypes ${dy.dtype}/${filter.dtype}, padding ${JSON.stringify(pad)}); use NHWC float32 with padding at most filter size − 1`,
      );
    }
    // W[kh, kw, ci, co] → W'[KH−1−kh, KW−1−kw, co, ci]
    const reversed = runKernel(wasm, "Reverse", { x: filter }, { dims: [0, 1] });
    const turned = runKernel(wasm, "Transpose", { x: reversed }, { perm: [0, 1, 3, 2] });
    release(wasm, reversed);
    const spread = strideHeight > 1 || strideWidth > 1 ? insertZeros(wasm, dy, strideHeight, strideWidth) : dy;
    const dx = runKernel(
      wasm,
      "Conv2D",
      { x: spread, filter: turned },
      {
        strides: 1,
        dilations: 1,
        pad: [
          [0, 0],
          [top, bottom],
          [left, right],
          [0, 0],
        ],
        dataFormat: "NHWC",
      },
    );
    release(wasm, turned);
    if (spread !== dy) release(wasm, spread);
    return dx;
  };
}

/** dy [N, OH, OW, C] → [N, (OH−1)·sh + 1, (OW−1)·sw + 1, C] with dy's pixels at multiples of the stride. */
function insertZeros(backend: WasmBackend, dy: TensorInfo, sh: number, sw: number): TensorInfo {
  const [n, oh, ow, c] = dy.shape as [number, number, number, number];
  const h = (oh - 1) * sh + 1;
  const w = (ow - 1) * sw + 1;
  const out = backend.makeOutput([n, h, w, c], "float32");
  const src = backend.typedArrayFromHeap(dy);
  const dst = backend.typedArrayFromHeap(out);
  dst.fill(0);
  let from = 0;
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < oh; i++) {
      let to = ((b * h + i * sh) * w) * c;
      for (let j = 0; j < ow; j++, from += c, to += sw * c) dst.set(src.subarray(from, from + c), to);
    }
  }
  return out;
}

export function conv2DBackpropInputConfig(builtin: KernelFunc | undefined): KernelConfig {
  return { kernelName: Conv2DBackpropInput, backendName: "wasm", kernelFunc: makeConv2DBackpropInput(builtin) };
}
