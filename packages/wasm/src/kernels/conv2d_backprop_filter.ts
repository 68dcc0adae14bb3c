import {
  backend_util,
  Conv2DBackpropFilter,
  type Conv2DBackpropFilterAttrs,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
  util,
} from "@tensorflow/tfjs-core";
import { swapOuterAndInnerAxes, swapOuterAxes } from "./layout.js";
import { examplesPerChunk, heapBytes, heapOffset, kernelLimits, release, runKernel, type WasmBackend } from "./wasm.js";
import { FEW_CHANNELS_BLOCK, type WasmSimdKernels, wasmSimdKernels } from "./wasm_simd.js";

/**
 * dW of a 2-D convolution (NHWC), computed by the wasm backend's own XNNPACK operators.
 *
 * For stride s and padding (top pt, left pl):
 *   dW[kh, kw, ci, co] = Σ_{n, oh, ow} x[n, oh·s + kh − pt, ow·s + kw − pl, ci] · dy[n, oh, ow, co]
 * which is itself a convolution in which the batch is the contracted channel axis:
 *   input  xᵀ  = x  transposed to [CI, H, W, N]        (CI images, N channels)
 *   filter dyᵀ = dy transposed to [OH, OW, N, CO]      (an OH×OW filter)
 *   dilation s, stride 1, padding pt/pl (+ whatever the bottom/right needs)
 *   output [CI, KH, KW, CO], rearranged to the filter layout [KH, KW, CI, CO].
 * With WebAssembly SIMD, `auto` computes it as a matrix product over blocks of output pixels
 * (blockedGemm below: colsᵀ · dy, KH·KW·CI rows), except for a strided 1×1 filter (the matrix
 * product below, on the pixels it reads) and for stride 1 with few input channels:
 * A single input channel at stride 1 (LeNet's first layer, on grayscale images) runs a WebAssembly
 * SIMD loop (wasm_simd.ts, filterOneChannel; 12.5 → 2.5 ms on LeNet's conv1 in bench/kernels.ts): the
 * XNNPACK convolution below has one input image and N channels there, a poor fit for its tiles.
 * A few input channels (2 to FEW_CHANNELS_MAX) at stride 1 (LeNet's conv2) run another such loop,
 * vectorized over the output channels and reading x and dy in place (wasm_simd.ts, filterFewChannels;
 * 9.2 → 3.1 ms on LeNet's conv2 in bench/kernels.ts).
 * Without WebAssembly SIMD (or with `wasmSimd.enabled = false`): a 1×1 filter is one matrix product,
 * dW = xₛᵀ·dy (xₛ: x at the strided pixels); a strided filter over a single input channel (the stems)
 * is im2col (KH·KW rows written by JavaScript) times dy; everything else the convolution above, which
 * needs only two transposed copies as temporaries.
 * bench/kernels.ts measures these against each other and plain JavaScript loops: each is used where it
 * was fastest. Batches whose temporaries would exceed kernelLimits.tempBytes are split and their
 * partial sums added (the blocked product bounds its own).
 */
export const conv2DBackpropFilter: KernelFunc = makeConv2DBackpropFilter("auto");

/**
 * How dW is computed; `auto` (the registered kernel) picks as described above. The others exist for
 * bench/kernels.ts: `matmul` needs a 1×1 filter without padding, `im2col` a single input channel, `simd`
 * a single input channel, stride 1 and WebAssembly SIMD, `simd-channels` stride 1 and WebAssembly SIMD
 * (any number of input channels; `auto` uses it for 2 to FEW_CHANNELS_MAX), `gemm` WebAssembly SIMD
 * (any geometry; `auto` uses it wherever it takes neither `simd`, `simd-channels` nor, for a strided
 * 1×1 filter, `matmul`).
 */
export type DwStrategy = "auto" | "convolution" | "matmul" | "im2col" | "simd" | "simd-channels" | "gemm";

/** The most input channels for which `auto` takes the `simd-channels` loop (stride 1). */
export const FEW_CHANNELS_MAX = 8;

export function makeConv2DBackpropFilter(strategy: DwStrategy): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const wasm = backend as WasmBackend;
    const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
    const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as Conv2DBackpropFilterAttrs;
    const format = backend_util.convertConv2DDataFormat(dataFormat);
    if (format !== "channelsLast") {
      throw new Error(
        `Conv2DBackpropFilter on wasm: dataFormat '${dataFormat}' is not supported; ` +
          "use NHWC (channelsLast), the tfjs-layers default",
      );
    }
    if (x.dtype !== "float32" || dy.dtype !== "float32") {
      throw new Error(`Conv2DBackpropFilter on wasm: x is ${x.dtype} and dy is ${dy.dtype}; both must be float32`);
    }
    const conv = backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number],
      filterShape,
      strides,
      1,
      pad,
      dimRoundingMode,
      false,
      format,
    );
    const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels } = conv;
    const { filterHeight, filterWidth, strideHeight, strideWidth } = conv;
    const top = conv.padInfo.top;
    const left = conv.padInfo.left;
    // Padding past the end that the dilated dy "filter" needs to produce KH rows; when the forward pass
    // never read the last input rows this is negative: we then pad nothing and drop the extra output rows.
    const bottom = Math.max(0, filterHeight - 1 + strideHeight * (outHeight - 1) - (inHeight - 1) - top);
    const right = Math.max(0, filterWidth - 1 + strideWidth * (outWidth - 1) - (inWidth - 1) - left);

    const pointwiseGeometry = filterHeight === 1 && filterWidth === 1 && top === 0 && left === 0;
    if (strategy === "matmul" && !pointwiseGeometry) {
      throw new Error("Conv2DBackpropFilter on wasm: strategy 'matmul' needs a 1×1 filter without padding");
    }
    if (strategy === "im2col" && inChannels !== 1) {
      throw new Error("Conv2DBackpropFilter on wasm: strategy 'im2col' needs a single input channel");
    }
    const stride1 = strideHeight === 1 && strideWidth === 1;
    const simdGeometry = inChannels === 1 && stride1 && !pointwiseGeometry;
    const channelsGeometry =
      stride1 &&
      (strategy === "simd-channels" || (inChannels >= 2 && inChannels <= FEW_CHANNELS_MAX && !pointwiseGeometry));
    const simd =
      (simdGeometry || channelsGeometry) && util.sizeFromShape(dy.shape) > 0 ? wasmSimdKernels(wasm) : undefined;
    if (strategy === "simd" && !(simd && simdGeometry)) {
      throw new Error(
        "Conv2DBackpropFilter on wasm: strategy 'simd' needs a single input channel, stride 1 and WebAssembly SIMD",
      );
    }
    // A strided 1×1 filter reads a quarter of x or less: xₛᵀ·dy (matmul) copies just those pixels.
    const gemmGeometry =
      strategy === "gemm" || (!simdGeometry && !channelsGeometry && !(pointwiseGeometry && !stride1));
    const gemmSimd = gemmGeometry && util.sizeFromShape(dy.shape) > 0 ? wasmSimdKernels(wasm) : undefined;
    if (strategy === "gemm" && !gemmSimd) {
      throw new Error("Conv2DBackpropFilter on wasm: strategy 'gemm' needs a non-empty dy and WebAssembly SIMD");
    }
    if (strategy === "simd-channels" && !simd) {
      throw new Error(
        "Conv2DBackpropFilter on wasm: strategy 'simd-channels' needs stride 1, a non-empty dy and WebAssembly SIMD",
      );
    }
    const chosen =
      strategy !== "auto"
        ? strategy
        : gemmSimd
          ? "gemm"
          : pointwiseGeometry
            ? "matmul"
            : simd
              ? simdGeometry
                ? "simd"
                : "simd-channels"
              : inChannels === 1 && (strideHeight > 1 || strideWidth > 1)
                ? "im2col"
                : "convolution";
    if (chosen === "simd" && simd) return oneChannelBySimd(wasm, simd, x, dy, conv);
    if (chosen === "simd-channels" && simd) return fewChannelsBySimd(wasm, simd, x, dy, conv);
    if (chosen === "gemm" && gemmSimd) return blockedGemm(wasm, gemmSimd, x, dy, conv);
    const dW = wasm.makeOutput(filterShape, "float32");
    // Temporaries per example: dy's transposed copy, or the im2col rows.
    const rowsPerPixel = Math.max(outChannels, chosen === "im2col" ? filterHeight * filterWidth : 0);
    const chunk = examplesPerChunk(batchSize, outHeight * outWidth * rowsPerPixel * 4);
    for (let first = 0; first < batchSize; first += chunk) {
      const count = Math.min(chunk, batchSize - first);
      const xPart = count === batchSize ? x : batchRange(wasm, x, first, count);
      const dyPart = count === batchSize ? dy : batchRange(wasm, dy, first, count);
      const partial =
        chosen === "matmul"
          ? pointwisePartial(wasm, xPart, dyPart, strideHeight, strideWidth, outHeight, outWidth)
          : chosen === "im2col"
            ? im2colPartial(wasm, xPart, dyPart, conv)
            : convolutionPartial(wasm, xPart, dyPart, strideHeight, strideWidth, [top, bottom, left, right]);
      if (xPart !== x) release(wasm, xPart);
      if (dyPart !== dy) release(wasm, dyPart);
      addToFilterLayout(wasm, partial, dW, first === 0);
      release(wasm, partial);
    }
    return dW;
  };
}

/**
 * One input channel, stride 1, on the WebAssembly SIMD loop (wasm_simd.ts, filterOneChannel): per
 * chunk of examples, x copied into a zero-padded [count, Hp, Wp] and dy transposed to
 * [count, CO, OH, OW4] (OW rounded up to a multiple of 4, zero tail), so that the loop reads 4 output
 * columns of dy and the 4 input columns each tap sees with one v128 load each, never out of bounds.
 */
function oneChannelBySimd(
  backend: WasmBackend,
  simd: WasmSimdKernels,
  x: TensorInfo,
  dy: TensorInfo,
  conv: backend_util.Conv2DInfo,
): TensorInfo {
  const { batchSize, inHeight, inWidth, outHeight, outWidth, outChannels, filterHeight, filterWidth } = conv;
  const top = conv.padInfo.top;
  const left = conv.padInfo.left;
  const ow4 = Math.ceil(outWidth / 4) * 4;
  const hp = outHeight + filterHeight - 1;
  const wp = ow4 + filterWidth - 1;
  // Input rows and columns the forward pass read (padding "valid" after an explicit one may leave some).
  const rows = Math.min(inHeight, hp - top);
  const cols = Math.min(inWidth, wp - left);
  const perExample = (outChannels * outHeight * ow4 + hp * wp) * 4;
  const chunk = examplesPerChunk(batchSize, perExample);
  const dW = backend.makeOutput(conv.filterShape, "float32");
  const xPadded = backend.makeOutput([chunk, hp, wp], "float32");
  const dyT = backend.makeOutput([chunk, outChannels, outHeight, ow4], "float32");
  const scratch = backend.makeOutput([32], "float32");
  // Views after the last makeOutput: allocating may grow (and so detach) the wasm heap. The borders of
  // xPadded and the tails of dyT's rows stay zero: each chunk overwrites only the interior.
  backend.typedArrayFromHeap(dW).fill(0);
  backend.typedArrayFromHeap(xPadded).fill(0);
  if (ow4 !== outWidth) backend.typedArrayFromHeap(dyT).fill(0);
  const xAt = heapOffset(backend, x);
  const dyAt = heapOffset(backend, dy);
  const paddedAt = heapOffset(backend, xPadded);
  const transposedAt = heapOffset(backend, dyT);
  for (let first = 0; first < batchSize; first += chunk) {
    const count = Math.min(chunk, batchSize - first);
    if (rows > 0 && cols > 0) {
      simd.copyRows(
        xAt + first * inHeight * inWidth * 4,
        paddedAt + (top * wp + left) * 4,
        count,
        rows,
        cols * 4,
        inWidth * 4,
        wp * 4,
        inHeight * inWidth * 4,
        hp * wp * 4,
      );
    }
    simd.transposeChannels(
      dyAt + first * outHeight * outWidth * outChannels * 4,
      transposedAt,
      count,
      outHeight,
      outWidth,
      outChannels,
      ow4,
    );
    simd.filterOneChannel(
      paddedAt,
      transposedAt,
      heapOffset(backend, dW),
      heapOffset(backend, scratch),
      count,
      outChannels,
      outHeight,
      ow4,
      filterHeight,
      filterWidth,
      wp,
      hp,
    );
  }
  release(backend, xPadded, dyT, scratch);
  return dW;
}

/**
 * Few input channels, stride 1, on the WebAssembly SIMD loop vectorized over the output channels
 * (wasm_simd.ts, filterFewChannels): x and dy read in place when CO is a multiple of 4 (no
 * temporaries); otherwise dy is copied, per chunk of examples, to rows of CO4 (CO rounded up to a
 * multiple of 4, zero tail) and dW computed as [KH, KW, CI, CO4], then compacted.
 */
function fewChannelsBySimd(
  backend: WasmBackend,
  simd: WasmSimdKernels,
  x: TensorInfo,
  dy: TensorInfo,
  conv: backend_util.Conv2DInfo,
): TensorInfo {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, filterHeight, filterWidth } =
    conv;
  const co4 = Math.ceil(outChannels / 4) * 4;
  // Input channels per pass: as even as the passes allow (6 → 3 + 3 rather than 4 + 2: 3.3 against 3.4 ms).
  const block = Math.ceil(inChannels / Math.ceil(inChannels / FEW_CHANNELS_BLOCK));
  const dW = backend.makeOutput(conv.filterShape, "float32");
  const pixels = outHeight * outWidth;
  const chunk = co4 === outChannels ? batchSize : examplesPerChunk(batchSize, pixels * co4 * 4);
  const dW4 = co4 === outChannels ? dW : backend.makeOutput([filterHeight, filterWidth, inChannels, co4], "float32");
  const dyPadded = co4 === outChannels ? dy : backend.makeOutput([chunk, outHeight, outWidth, co4], "float32");
  // Views after the last makeOutput: allocating may grow (and so detach) the wasm heap. The tails of
  // dyPadded's rows stay zero: each chunk overwrites only the first CO floats of each.
  backend.typedArrayFromHeap(dW4).fill(0);
  if (dyPadded !== dy) backend.typedArrayFromHeap(dyPadded).fill(0);
  const xAt = heapOffset(backend, x);
  const dyAt = heapOffset(backend, dy);
  const paddedAt = heapOffset(backend, dyPadded);
  for (let first = 0; first < batchSize; first += chunk) {
    const count = Math.min(chunk, batchSize - first);
    if (dyPadded !== dy) {
      simd.copyRows(
        dyAt + first * pixels * outChannels * 4,
        paddedAt,
        1,
        count * pixels,
        outChannels * 4,
        outChannels * 4,
        co4 * 4,
        0,
        0,
      );
    }
    simd.filterFewChannels(
      xAt + first * inHeight * inWidth * inChannels * 4,
      dyPadded === dy ? dyAt : paddedAt,
      heapOffset(backend, dW4),
      count,
      inHeight,
      inWidth,
      inChannels,
      outHeight,
      outWidth,
      co4,
      filterHeight,
      filterWidth,
      conv.padInfo.top,
      conv.padInfo.left,
      block,
    );
  }
  if (dW4 !== dW) {
    const src = backend.typedArrayFromHeap(dW4);
    const dst = backend.typedArrayFromHeap(dW);
    const rows = filterHeight * filterWidth * inChannels;
    for (let r = 0; r < rows; r++) dst.set(src.subarray(r * co4, r * co4 + outChannels), r * outChannels);
    release(backend, dW4);
  }
  if (dyPadded !== dy) release(backend, dyPadded);
  return dW;
}

/**
 * dW, seen as [KH·KW·CI, CO], as Σ over blocks of output pixels of colsᵀ · dy, on XNNPACK's matrix
 * product, where dy [P, CO] holds the block's P output pixels (a contiguous range of dy, copied as
 * the product's right operand) and colsᵀ [KH·KW·CI, P] holds, in row (kh, kw, ci), the input value
 * each output pixel sees through tap (kh, kw) on channel ci (0 in the padding). A block is a few whole
 * examples, or a band of output rows of one example when an example alone has more than
 * kernelLimits.gemmBlockPixels output pixels. colsᵀ is written tap by tap from x as it is (NHWC) by
 * the SIMD module's tapColumns (writeColumns), any stride; a 1×1 filter over every pixel is the block
 * of x transposed, one such call. The blocks' products are summed by its accumulate (4 floats at a
 * time; a JavaScript loop took 3–6 ns a float). The padding's zeros sit at the same places in every
 * block of whole examples, so their colsᵀ is zeroed once; a band's is zeroed each time. Blocks of about
 * kernelLimits.gemmBlockPixels keep the product's operands near the caches: XNNPACK's matrix product
 * does not split its reduction axis, and one product over the whole batch (K = N·OH·OW) streams both
 * operands from memory (the convolution above, whose reduction is also the batch, ran GoogLeNet's 3×3
 * 64→192 dW at 6.3 multiply-adds per ns against 14.8 for its forward pass; this, 12–13).
 */
function blockedGemm(
  backend: WasmBackend,
  simd: WasmSimdKernels,
  x: TensorInfo,
  dy: TensorInfo,
  conv: backend_util.Conv2DInfo,
): TensorInfo {
  const { batchSize, inChannels, outHeight, outWidth, outChannels } = conv;
  const pixels = outHeight * outWidth;
  const rows = conv.filterHeight * conv.filterWidth * inChannels;
  const perGroup = Math.max(1, Math.min(batchSize, Math.floor(kernelLimits.gemmBlockPixels / pixels)));
  // Output rows per block: all of them, or bands when one example is already more than a block.
  const bandRows =
    perGroup > 1 ? outHeight : Math.max(1, Math.min(outHeight, Math.floor(kernelLimits.gemmBlockPixels / outWidth)));
  const banded = bandRows < outHeight;
  const dW = backend.makeOutput(conv.filterShape, "float32");
  // colsᵀ by width: the full blocks', and a shorter last block's or band's.
  const colsByWidth = new Map<number, TensorInfo>();
  const colsOf = (width: number) => {
    let cols = colsByWidth.get(width);
    if (!cols) {
      cols = backend.makeOutput([1, rows, width], "float32");
      backend.typedArrayFromHeap(cols).fill(0);
      colsByWidth.set(width, cols);
    }
    return cols;
  };
  let firstBlock = true;
  for (let first = 0; first < batchSize; first += perGroup) {
    const count = Math.min(perGroup, batchSize - first);
    for (let ohStart = 0; ohStart < outHeight; ohStart += bandRows) {
      const ohCount = Math.min(bandRows, outHeight - ohStart);
      const width = count * ohCount * outWidth;
      const cols = colsOf(width);
      const right = backend.makeOutput([1, width, outChannels], "float32");
      // Offsets after the last makeOutput: allocating may grow (and so detach) the wasm heap.
      const dyAt = heapOffset(backend, dy) + (first * outHeight + ohStart) * outWidth * outChannels * 4;
      heapBytes(backend).copyWithin(heapOffset(backend, right), dyAt, dyAt + width * outChannels * 4);
      if (banded) backend.typedArrayFromHeap(cols).fill(0);
      writeColumns(backend, simd, x, cols, conv, first, count, ohStart, ohCount);
      const product = runKernel(
        backend,
        "BatchMatMul",
        { a: cols, b: right },
        { transposeA: false, transposeB: false },
      );
      release(backend, right);
      if (firstBlock) backend.typedArrayFromHeap(dW).set(backend.typedArrayFromHeap(product));
      else simd.accumulate(heapOffset(backend, dW), heapOffset(backend, product), rows * outChannels);
      firstBlock = false;
      release(backend, product);
    }
  }
  release(backend, ...colsByWidth.values());
  return dW;
}

/**
 * colsᵀ [KH·KW·CI, count·ohCount·OW] of output rows [ohStart, ohStart + ohCount) of examples
 * [first, first + count), from x (NHWC): for each tap the output rows and columns whose input pixel
 * (ih, iw) = (oh·sH + kh − top, ow·sW + kw − left) is inside the input, one tapColumns call over the
 * examples, rows and channels. A 1×1 filter over every pixel is one call over the block's pixels.
 * Entries whose input falls in the padding are left as they are (zero).
 */
function writeColumns(
  backend: WasmBackend,
  simd: WasmSimdKernels,
  x: TensorInfo,
  cols: TensorInfo,
  conv: backend_util.Conv2DInfo,
  first: number,
  count: number,
  ohStart: number,
  ohCount: number,
): void {
  const { inHeight, inWidth, inChannels, outHeight, outWidth, filterHeight, filterWidth, strideHeight, strideWidth } =
    conv;
  const top = conv.padInfo.top;
  const left = conv.padInfo.left;
  const width = count * ohCount * outWidth;
  const pixelBytes = inChannels * 4;
  const exampleBytes = inHeight * inWidth * pixelBytes;
  const xAt = heapOffset(backend, x) + first * exampleBytes;
  const colsAt = heapOffset(backend, cols);
  if (filterHeight * filterWidth === 1 && top === 0 && left === 0 && outHeight === inHeight && outWidth === inWidth) {
    // Every pixel, in order: colsᵀ is the block [P, CI] transposed.
    simd.tapColumns(
      xAt + ohStart * inWidth * pixelBytes,
      colsAt,
      1,
      1,
      width,
      inChannels,
      pixelBytes,
      0,
      0,
      width * 4,
      0,
      0,
    );
    return;
  }
  /** The first o with o·s + k − pad ≥ 0, and the end of those with o·s + k − pad < size. */
  const inside = (k: number, pad: number, stride: number, size: number, first: number, end: number) =>
    [
      Math.max(first, Math.ceil((pad - k) / stride)),
      Math.min(end, Math.floor((size - 1 + pad - k) / stride) + 1),
    ] as const;
  for (let kh = 0; kh < filterHeight; kh++) {
    const [ohFirst, ohEnd] = inside(kh, top, strideHeight, inHeight, ohStart, ohStart + ohCount);
    if (ohEnd <= ohFirst) continue;
    for (let kw = 0; kw < filterWidth; kw++) {
      const [owFirst, owEnd] = inside(kw, left, strideWidth, inWidth, 0, outWidth);
      if (owEnd <= owFirst) continue;
      const row = (kh * filterWidth + kw) * inChannels;
      simd.tapColumns(
        xAt + ((ohFirst * strideHeight + kh - top) * inWidth + owFirst * strideWidth + kw - left) * pixelBytes,
        colsAt + (row * width + (ohFirst - ohStart) * outWidth + owFirst) * 4,
        count,
        ohEnd - ohFirst,
        owEnd - owFirst,
        inChannels,
        strideWidth * pixelBytes,
        strideHeight * inWidth * pixelBytes,
        exampleBytes,
        width * 4,
        outWidth * 4,
        ohCount * outWidth * 4,
      );
    }
  }
}

/** Σ over the examples of x ⋆ dy as one XNNPACK convolution: [CI, KH', KW', CO] (see above). */
function convolutionPartial(
  backend: WasmBackend,
  x: TensorInfo,
  dy: TensorInfo,
  strideHeight: number,
  strideWidth: number,
  [top, bottom, left, right]: number[],
): TensorInfo {
  const [n, h, w, ci] = x.shape as [number, number, number, number];
  const [, oh, ow, co] = dy.shape as [number, number, number, number];
  const xT = { ...swapOuterAndInnerAxes(backend, x, [n, h * w, ci]), shape: [ci, h, w, n] };
  const dyT = { ...swapOuterAxes(backend, dy, [n, oh * ow, co]), shape: [oh, ow, n, co] };
  const partial = runKernel(
    backend,
    "Conv2D",
    { x: xT, filter: dyT },
    {
      strides: 1,
      dilations: [strideHeight, strideWidth],
      pad: [
        [0, 0],
        [top, bottom],
        [left, right],
        [0, 0],
      ],
      dataFormat: "NHWC",
    },
  );
  release(backend, xT, dyT);
  return partial;
}

/** 1×1 filter: xₛᵀ [CI, P] · dy [P, CO] on XNNPACK's matrix product, shaped [CI, 1, 1, CO]. */
function pointwisePartial(
  backend: WasmBackend,
  x: TensorInfo,
  dy: TensorInfo,
  strideHeight: number,
  strideWidth: number,
  outHeight: number,
  outWidth: number,
): TensorInfo {
  const [n, h, w, ci] = x.shape as [number, number, number, number];
  const co = dy.shape[3] as number;
  const pixels = n * outHeight * outWidth;
  const everyPixel = strideHeight === 1 && strideWidth === 1 && h === outHeight && w === outWidth;
  const strided = everyPixel ? x : stridedPixels(backend, x, strideHeight, strideWidth, outHeight, outWidth);
  const xT = swapOuterAndInnerAxes(backend, strided, [pixels, 1, ci]);
  if (strided !== x) release(backend, strided);
  // XNNPACK packs the right operand and caches that per tensor id until the tensor is disposed; dy's
  // data never changes and it is only ever viewed as [1, pixels, CO] here, so the cache stays right.
  const product = runKernel(
    backend,
    "BatchMatMul",
    { a: { ...xT, shape: [1, ci, pixels] }, b: { ...dy, shape: [1, pixels, co] } },
    { transposeA: false, transposeB: false },
  );
  release(backend, xT);
  return { ...product, shape: [ci, 1, 1, co] };
}

/**
 * One input channel: im2col [KH·KW, N·OH·OW] (row kh·KW + kw holds the input pixel each output pixel
 * sees through tap (kh, kw), 0 in the padding) · dy [N·OH·OW, CO], shaped [1, KH, KW, CO].
 */
function im2colPartial(backend: WasmBackend, x: TensorInfo, dy: TensorInfo, conv: backend_util.Conv2DInfo): TensorInfo {
  const { inHeight, inWidth, outHeight, outWidth, outChannels, filterHeight, filterWidth } = conv;
  const { strideHeight, strideWidth } = conv;
  const examples = x.shape[0] as number;
  const pixels = examples * outHeight * outWidth;
  const taps = filterHeight * filterWidth;
  const cols = backend.makeOutput([1, taps, pixels], "float32");
  const image = backend.typedArrayFromHeap(x);
  const rows = backend.typedArrayFromHeap(cols);
  let to = 0;
  for (let kh = 0; kh < filterHeight; kh++) {
    for (let kw = 0; kw < filterWidth; kw++) {
      for (let n = 0; n < examples; n++) {
        for (let oh = 0; oh < outHeight; oh++) {
          const ih = oh * strideHeight + kh - conv.padInfo.top;
          if (ih < 0 || ih >= inHeight) {
            rows.fill(0, to, to + outWidth);
            to += outWidth;
            continue;
          }
          const row = (n * inHeight + ih) * inWidth;
          for (let ow = 0; ow < outWidth; ow++) {
            const iw = ow * strideWidth + kw - conv.padInfo.left;
            rows[to++] = iw >= 0 && iw < inWidth ? (image[row + iw] as number) : 0;
          }
        }
      }
    }
  }
  // dy as the packed right operand: see pointwisePartial on XNNPACK's cache.
  const product = runKernel(
    backend,
    "BatchMatMul",
    { a: cols, b: { ...dy, shape: [1, pixels, outChannels] } },
    { transposeA: false, transposeB: false },
  );
  release(backend, cols);
  return { ...product, shape: [1, filterHeight, filterWidth, outChannels] };
}

/** x[n, oh·sh, ow·sw, :] for every output pixel: [N·OH·OW, CI]. */
function stridedPixels(
  backend: WasmBackend,
  x: TensorInfo,
  sh: number,
  sw: number,
  oh: number,
  ow: number,
): TensorInfo {
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const out = backend.makeOutput([n * oh * ow, c], "float32");
  const src = backend.typedArrayFromHeap(x);
  const dst = backend.typedArrayFromHeap(out);
  let to = 0;
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < oh; i++) {
      let from = (b * h + i * sh) * w * c;
      for (let j = 0; j < ow; j++, from += sw * c, to += c) dst.set(src.subarray(from, from + c), to);
    }
  }
  return out;
}

/** Examples [first, first + count) of an NHWC tensor, copied (they are contiguous in memory). */
function batchRange(backend: WasmBackend, t: TensorInfo, first: number, count: number): TensorInfo {
  const [, h, w, c] = t.shape as [number, number, number, number];
  const out = backend.makeOutput([count, h, w, c], "float32");
  const perExample = h * w * c;
  // Views after makeOutput: allocating may grow (and so detach) the wasm heap.
  const src = backend.typedArrayFromHeap(t);
  backend.typedArrayFromHeap(out).set(src.subarray(first * perExample, (first + count) * perExample));
  return out;
}

/**
 * dW[kh, kw, ci, co] (=|+=) partial[ci, kh, kw, co] for kh < KH, kw < KW: the convolution's output
 * is [CI, KH', KW', CO] with KH' ≥ KH when the forward pass left input rows unread.
 */
function addToFilterLayout(backend: WasmBackend, partial: TensorInfo, dW: TensorInfo, overwrite: boolean): void {
  const [kh, kw, ci, co] = dW.shape as [number, number, number, number];
  const [, ph, pw] = partial.shape as [number, number, number, number];
  util.assert(ph >= kh && pw >= kw, () => `internal: dW convolution gave ${ph}×${pw}, expected at least ${kh}×${kw}`);
  const src = backend.typedArrayFromHeap(partial);
  const dst = backend.typedArrayFromHeap(dW);
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      for (let c = 0; c < ci; c++) {
        const from = ((c * ph + i) * pw + j) * co;
        const to = ((i * kw + j) * ci + c) * co;
        if (overwrite) {
          dst.set(src.subarray(from, from + co), to);
        } else {
          for (let o = 0; o < co; o++) dst[to + o] += src[from + o];
        }
      }
    }
  }
}

export const conv2DBackpropFilterConfig: KernelConfig = {
  kernelName: Conv2DBackpropFilter,
  backendName: "wasm",
  kernelFunc: conv2DBackpropFilter,
};
