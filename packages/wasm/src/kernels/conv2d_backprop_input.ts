import {
  backend_util,
  Conv2DBackpropInput,
  type Conv2DBackpropInputAttrs,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from "@tensorflow/tfjs-core";
import { turnFilter } from "./layout.js";
import { examplesPerChunk, heapOffset, release, runKernel, type WasmBackend } from "./wasm.js";
import { type WasmSimdKernels, wasmSimdKernels } from "./wasm_simd.js";

type ConvInfo = backend_util.Conv2DInfo;

/**
 * dx of a 2-D convolution (NHWC) on the wasm backend's XNNPACK operators.
 *
 * tfjs-backend-wasm 4.22 has a Conv2DBackpropInput, but it is a scalar C++ loop that bench/kernels.ts
 * measures at 7–15× the time of the forward convolution (LeNet's second layer: ~55 ms per batch of
 * 256 on an idle machine, more than a whole PyTorch training step). dx is the "full" correlation of dy with the filter
 * turned 180° and its channel axes swapped:
 *   dx[n, ih, iw, ci] = Σ_{kh, kw, co} dy[n, (ih + pt − kh)/s, (iw + pl − kw)/s, co] · W[kh, kw, ci, co]
 * (terms with a fractional or out-of-range dy index are zero). Three ways to compute it, each the
 * fastest in bench/kernels.ts where it is used:
 *   stride > 1, or stride 1 with few input channels (FEW_INPUT_CHANNELS): dcols = dy · Wᵀ on XNNPACK's
 *     matrix product, then col2im (each row of dcols added back into the KH×KW window it came from,
 *     one contiguous run per filter row, 4 floats at a time by a WebAssembly SIMD loop: wasm_simd.ts),
 *     batch by batch within kernelLimits.tempBytes; inserting s−1 zeros between dy's pixels and
 *     convolving instead costs s² times the work and memory, and at stride 1 the convolution below
 *     spends most of its work on dy's zero padding when the filter is large next to dy;
 *   stride 1: one convolution of dy with the turned filter;
 *   without WebAssembly SIMD (or `wasmSimd.enabled = false`), stride 1 and one input channel: a
 *     depthwise convolution of dy with each output channel's turned filter, summed over the channels
 *     (a convolution with one output channel wastes most of XNNPACK's register tile); stride > 1 keeps
 *     dcols with a JavaScript col2im.
 * Other data formats and dtypes go to the built-in kernel.
 */
export function makeConv2DBackpropInput(builtin: KernelFunc | undefined, strategy: DxStrategy = "auto"): KernelFunc {
  return (args) => {
    const wasm = args.backend as WasmBackend;
    const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
    const { strides, pad, dataFormat, dimRoundingMode, inputShape } = args.attrs as unknown as Conv2DBackpropInputAttrs;
    const format = backend_util.convertConv2DDataFormat(dataFormat);
    if (format !== "channelsLast" || dy.dtype !== "float32" || filter.dtype !== "float32") {
      if (builtin) return builtin(args);
      throw new Error(
        `Conv2DBackpropInput on wasm: dataFormat '${dataFormat}' with dtypes ${dy.dtype}/${filter.dtype} ` +
          "is not supported; use NHWC float32",
      );
    }
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
    const pads = fullCorrelationPadding(conv);
    const asConvolution = conv.strideHeight === 1 && conv.strideWidth === 1 && Math.min(...pads) >= 0;
    const simd = wasmSimdKernels(wasm);
    const chosen =
      strategy !== "auto"
        ? strategy
        : simd && (!asConvolution || conv.inChannels <= FEW_INPUT_CHANNELS)
          ? "matmul-simd"
          : !asConvolution
            ? "matmul"
            : conv.inChannels === 1
              ? "depthwise"
              : "convolution";
    const fits =
      chosen === "matmul" ||
      (chosen === "matmul-simd" && simd !== undefined) ||
      (asConvolution && (chosen === "convolution" || (chosen === "depthwise" && conv.inChannels === 1)));
    if (!fits) {
      throw new Error(`Conv2DBackpropInput on wasm: strategy '${chosen}' cannot compute this geometry`);
    }
    if (chosen === "depthwise") return byDepthwiseConvolution(wasm, dy, filter, pads);
    if (chosen === "convolution") return byConvolution(wasm, dy, filter, pads);
    return byMatMulCol2im(wasm, dy, filter, conv, chosen === "matmul-simd" ? simd : undefined);
  };
}

/**
 * Stride 1 with at most this many input channels: dcols and the SIMD col2im beat the convolution of the
 * padded dy (bench/kernels.ts: LeNet's conv2, 6 channels, 10.8 → 6.6 ms; its conv1, one channel, 10.4 →
 * 8.4 ms) while with 64 channels (ResNet's 3×3) the convolution stays faster (43.5 vs 49 ms).
 */
const FEW_INPUT_CHANNELS = 8;

/**
 * How dx is computed; `auto` (the registered kernel) picks per geometry as described above. The others
 * exist for bench/kernels.ts: `depthwise` needs one input channel and stride 1, `convolution` stride 1,
 * `matmul-simd` WebAssembly SIMD; `matmul` is dcols with the JavaScript col2im.
 */
export type DxStrategy = "auto" | "depthwise" | "convolution" | "matmul" | "matmul-simd";

/** [top, bottom, left, right] padding of dy for the stride-1 full correlation that yields dx. */
function fullCorrelationPadding(conv: ConvInfo): number[] {
  const { inHeight, inWidth, outHeight, outWidth, filterHeight, filterWidth, padInfo } = conv;
  return [
    filterHeight - 1 - padInfo.top,
    inHeight - outHeight + padInfo.top,
    filterWidth - 1 - padInfo.left,
    inWidth - outWidth + padInfo.left,
  ];
}

function explicitPad([top, bottom, left, right]: number[]) {
  return [
    [0, 0],
    [top, bottom],
    [left, right],
    [0, 0],
  ];
}

/** W[kh, kw, ci, co] → W'[KH−1−kh, KW−1−kw, co, ci]: one convolution of dy gives dx. */
function byConvolution(backend: WasmBackend, dy: TensorInfo, filter: TensorInfo, pads: number[]): TensorInfo {
  const turned = turnFilter(backend, filter);
  const dx = runKernel(
    backend,
    "Conv2D",
    { x: dy, filter: turned },
    { strides: 1, dilations: 1, pad: explicitPad(pads), dataFormat: "NHWC" },
  );
  release(backend, turned);
  return dx;
}

/** One input channel: dx = Σ_co (dy[..., co] ⋆ W'[..., 0, co]), a depthwise convolution then a channel sum. */
function byDepthwiseConvolution(backend: WasmBackend, dy: TensorInfo, filter: TensorInfo, pads: number[]): TensorInfo {
  const [kh, kw, , co] = filter.shape as [number, number, number, number];
  // [KH, KW, 1, CO] turned is [KH, KW, CO, 1]: the depthwise filter.
  const reversed = turnFilter(backend, filter);
  const perChannel = runKernel(
    backend,
    "DepthwiseConv2dNative",
    { x: dy, filter: { ...reversed, shape: [kh, kw, co, 1] } },
    { strides: 1, dilations: 1, pad: explicitPad(pads), dataFormat: "NHWC" },
  );
  release(backend, reversed);
  const dx = runKernel(backend, "Sum", { x: perChannel }, { axis: [3], keepDims: true });
  release(backend, perChannel);
  return dx;
}

/** dcols = dy · Wᵀ ([pixels, CO] · [CO, KH·KW·CI]) on XNNPACK, then col2im into dx, batch by batch. */
function byMatMulCol2im(
  backend: WasmBackend,
  dy: TensorInfo,
  filter: TensorInfo,
  conv: ConvInfo,
  simd: WasmSimdKernels | undefined,
): TensorInfo {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels } = conv;
  const { filterHeight, filterWidth, strideHeight, strideWidth } = conv;
  const top = conv.padInfo.top;
  const left = conv.padInfo.left;
  const window = filterHeight * filterWidth * inChannels;
  const filterT = runKernel(backend, "Transpose", { x: { ...filter, shape: [window, outChannels] } }, { perm: [1, 0] });
  const dx = backend.makeOutput(conv.inShape, "float32");
  backend.typedArrayFromHeap(dx).fill(0);
  const pixelsPerExample = outHeight * outWidth;
  const chunk = examplesPerChunk(batchSize, pixelsPerExample * window * 4);
  for (let first = 0; first < batchSize; first += chunk) {
    const count = Math.min(chunk, batchSize - first);
    const pixels = count * pixelsPerExample;
    let rows: TensorInfo = { ...dy, shape: [1, pixels, outChannels] };
    if (count !== batchSize) {
      rows = backend.makeOutput([1, pixels, outChannels], "float32");
      const from = first * pixelsPerExample * outChannels;
      backend.typedArrayFromHeap(rows).set(backend.typedArrayFromHeap(dy).subarray(from, from + pixels * outChannels));
    }
    const cols = runKernel(
      backend,
      "BatchMatMul",
      { a: rows, b: { ...filterT, shape: [1, outChannels, window] } },
      { transposeA: false, transposeB: false },
    );
    if (rows.dataId !== dy.dataId) release(backend, rows);
    if (simd && pixels > 0) {
      simd.col2im(
        heapOffset(backend, cols),
        heapOffset(backend, dx) + first * inHeight * inWidth * inChannels * 4,
        count,
        inHeight,
        inWidth,
        inChannels,
        outHeight,
        outWidth,
        filterHeight,
        filterWidth,
        strideHeight,
        strideWidth,
        top,
        left,
      );
      release(backend, cols);
      continue;
    }
    // Views after the allocations above (growing the heap detaches older views).
    const src = backend.typedArrayFromHeap(cols);
    const dst = backend.typedArrayFromHeap(dx);
    let row = 0;
    for (let n = first; n < first + count; n++) {
      for (let oh = 0; oh < outHeight; oh++) {
        for (let ow = 0; ow < outWidth; ow++, row += window) {
          let k = row;
          for (let fh = 0; fh < filterHeight; fh++) {
            const ih = oh * strideHeight + fh - top;
            if (ih < 0 || ih >= inHeight) {
              k += filterWidth * inChannels;
              continue;
            }
            for (let fw = 0; fw < filterWidth; fw++, k += inChannels) {
              const iw = ow * strideWidth + fw - left;
              if (iw < 0 || iw >= inWidth) continue;
              const pixel = ((n * inHeight + ih) * inWidth + iw) * inChannels;
              for (let c = 0; c < inChannels; c++) dst[pixel + c] += src[k + c] as number;
            }
          }
        }
      }
    }
    release(backend, cols);
  }
  release(backend, filterT);
  return dx;
}

export function conv2DBackpropInputConfig(builtin: KernelFunc | undefined): KernelConfig {
  return { kernelName: Conv2DBackpropInput, backendName: "wasm", kernelFunc: makeConv2DBackpropInput(builtin) };
}
