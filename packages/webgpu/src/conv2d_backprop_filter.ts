import {
  backend_util,
  Conv2DBackpropFilter,
  type Conv2DBackpropFilterAttrs,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from "@tensorflow/tfjs-core";
import type { ProgramUniforms, WebgpuBackend, WebgpuProgram } from "./program.js";

/**
 * The filter gradient of a 2-D convolution (channels last) as a matrix product
 *
 *     dW[m, n] = Σ_k A[k, m] · dy[k, n]     m = (kh, kw, ci), n = co, k = (b, oh, ow)
 *
 * where A[k, m] = x[b, oh·sh − padTop + kh, ow·sw − padLeft + kw, ci] (0 in the padding) is read from x as
 * the product needs it (an implicit im2col: nothing is materialised). M = KH·KW·CI rows, N = CO columns,
 * and an inner size K = batch · outHeight · outWidth that dwarfs both: ResNet-18's stem has M·N = 3,136
 * weights and K = 589,824 at 96×96, batch 256.
 *
 * tfjs-backend-webgpu 4.22 runs Conv2DDerFilterProgram: one invocation per weight, each summing its K
 * products serially — 3,136 threads on a GPU that wants tens of thousands, each a loop of half a million
 * steps. Here each workgroup computes a TILE_M × TILE_N tile of dW over one slice of K (split-K): the
 * slices run in parallel on their own workgroups and write partial sums to a [splits, M, N] buffer, and a
 * second pass adds the splits in order. A layer with few weights still gets ~TARGET_WORKGROUPS workgroups.
 *
 * The summation order also bounds the rounding: each thread sums at most `chunk` products (a few hundred),
 * then the reduction adds the splits' partial sums, instead of one running float32 sum over all of K.
 */

/** Rows (filter positions × input channels) and columns (output channels) of dW per workgroup. */
const TILE_M = 32;
const TILE_N = 32; // = TILE_M: a thread loads the same column of both tiles
/** Products along K staged in workgroup memory per step. */
const TILE_K = 16;
/** 8 × 8 invocations, each computing 4 × 4 outputs of the 32 × 32 tile. */
const WORKGROUP: [number, number, number] = [8, 8, 1];
const PER_THREAD = 4;

/** Workgroups to aim for: enough to fill a large GPU (an H100 has 132 multiprocessors, several groups each). */
export const TARGET_WORKGROUPS = 2048;
/** A split sums at least this many products (fewer would make the reduction pass the larger one)… */
const MIN_CHUNK = 256;
/** …and at most this many (bounds the serial float32 sum within a thread). */
const MAX_CHUNK = 4096;
/** The partial sums' buffer stays below this many floats (64 MB). */
const MAX_PARTIAL_FLOATS = 16 * 1024 * 1024;
/** WebGPU's guaranteed maxComputeWorkgroupsPerDimension. */
const MAX_DISPATCH = 65535;

/** How the reduction over K is split: `splits` slices of `chunk` products (a multiple of TILE_K). */
export function splitK(m: number, n: number, k: number): { splits: number; chunk: number } {
  const tiles = Math.ceil(m / TILE_M) * Math.ceil(n / TILE_N);
  let splits = Math.ceil(TARGET_WORKGROUPS / tiles);
  splits = Math.min(splits, Math.max(1, Math.floor(k / MIN_CHUNK)));
  splits = Math.max(splits, Math.ceil(k / MAX_CHUNK));
  splits = Math.max(1, Math.min(splits, Math.floor(MAX_PARTIAL_FLOATS / (m * n)), MAX_DISPATCH));
  const chunk = Math.ceil(Math.ceil(k / splits) / TILE_K) * TILE_K;
  return { splits: Math.ceil(k / chunk), chunk };
}

/** The tiled split-K product: partial sums of dW, [splits, M, N] (or dW itself, filter-shaped, when splits = 1). */
class FilterGradientTilesProgram implements WebgpuProgram {
  variableNames = ["x", "dy"];
  uniforms =
    "pads : vec2<i32>, strides : vec2<i32>, filterWidth : i32, dimM : i32, dimN : i32, dimK : i32, chunk : i32,";
  workgroupSize = WORKGROUP;
  dispatchLayout = { x: [2], y: [1], z: [0] };
  dispatch: [number, number, number];
  outputShape: number[];
  shaderKey = "convnetsConv2DFilterGradientTiles";

  constructor(m: number, n: number, splits: number, outputShape: number[]) {
    this.outputShape = outputShape;
    this.dispatch = [Math.ceil(n / TILE_N), Math.ceil(m / TILE_M), splits];
  }

  getUserCode(): string {
    const loads = (TILE_K * TILE_M) / (WORKGROUP[0] * WORKGROUP[1]);
    return `
      var<workgroup> tileA : array<array<f32, ${TILE_M}>, ${TILE_K}>;
      var<workgroup> tileB : array<array<f32, ${TILE_N}>, ${TILE_K}>;

      // A[k, m]: the input value that filter row m = (kh, kw, ci) multiplies at output position k (0 in the
      // padding, and past K or M).
      fn readA(k : i32, kEnd : i32, mValid : bool, kh : i32, kw : i32, ci : i32) -> f32 {
        if (k >= kEnd || !mValid) { return 0.0; }
        let outWidth = uniforms.dyShape[2];
        let outHeight = uniforms.dyShape[1];
        let ow = k % outWidth;
        let rest = k / outWidth;
        let oh = rest % outHeight;
        let b = rest / outHeight;
        let ih = oh * uniforms.strides.x - uniforms.pads.x + kh;
        let iw = ow * uniforms.strides.y - uniforms.pads.y + kw;
        if (ih < 0 || ih >= uniforms.xShape[1] || iw < 0 || iw >= uniforms.xShape[2]) { return 0.0; }
        return x[((b * uniforms.xShape[1] + ih) * uniforms.xShape[2] + iw) * uniforms.xShape[3] + ci];
      }

      fn readB(k : i32, n : i32, kEnd : i32) -> f32 {
        if (k >= kEnd || n >= uniforms.dimN) { return 0.0; }
        return dy[k * uniforms.dimN + n];
      }

      ${main()} {
        let split = i32(workgroupId.z);
        let kStart = split * uniforms.chunk;
        let kEnd = min(kStart + uniforms.chunk, uniforms.dimK);
        let row0 = i32(workgroupId.y) * ${TILE_M};
        let col0 = i32(workgroupId.x) * ${TILE_N};
        let local = i32(localIndex);
        let threadRow = i32(localId.y) * ${PER_THREAD};
        let threadCol = i32(localId.x) * ${PER_THREAD};
        var acc : array<array<f32, ${PER_THREAD}>, ${PER_THREAD}>;
        // Every load of this thread is in the same tile column (e mod ${TILE_M} = local mod ${TILE_M}): its filter
        // row m, decoded once.
        let column = local % ${TILE_M};
        let m = row0 + column;
        let mValid = m < uniforms.dimM;
        let ci = m % uniforms.xShape[3];
        let position = m / uniforms.xShape[3];
        let kw = position % uniforms.filterWidth;
        let kh = position / uniforms.filterWidth;

        // The loop's bounds come from uniforms only (workgroupBarrier needs uniform control flow); the last
        // split's steps past K load zeros.
        let steps = (uniforms.chunk + ${TILE_K - 1}) / ${TILE_K};
        for (var step = 0; step < steps; step = step + 1) {
          let k0 = kStart + step * ${TILE_K};
          for (var i = 0; i < ${loads}; i = i + 1) {
            let kk = (local + i * ${WORKGROUP[0] * WORKGROUP[1]}) / ${TILE_M};
            tileA[kk][column] = readA(k0 + kk, kEnd, mValid, kh, kw, ci);
            tileB[kk][column] = readB(k0 + kk, col0 + column, kEnd);
          }
          workgroupBarrier();
          for (var kk = 0; kk < ${TILE_K}; kk = kk + 1) {
            var a : array<f32, ${PER_THREAD}>;
            var b : array<f32, ${PER_THREAD}>;
            for (var i = 0; i < ${PER_THREAD}; i = i + 1) {
              a[i] = tileA[kk][threadRow + i];
              b[i] = tileB[kk][threadCol + i];
            }
            for (var i = 0; i < ${PER_THREAD}; i = i + 1) {
              for (var j = 0; j < ${PER_THREAD}; j = j + 1) {
                acc[i][j] = acc[i][j] + a[i] * b[j];
              }
            }
          }
          workgroupBarrier();
        }

        for (var i = 0; i < ${PER_THREAD}; i = i + 1) {
          let row = row0 + threadRow + i;
          for (var j = 0; j < ${PER_THREAD}; j = j + 1) {
            let n = col0 + threadCol + j;
            if (row < uniforms.dimM && n < uniforms.dimN) {
              result[(split * uniforms.dimM + row) * uniforms.dimN + n] = acc[i][j];
            }
          }
        }
      }
    `;
  }
}

/** dW = the sum of the partial sums over the splits, in split order (one invocation per weight). */
class SplitSumProgram implements WebgpuProgram {
  variableNames = ["partial"];
  uniforms = "splits : i32,";
  workgroupSize: [number, number, number] = [64, 1, 1];
  size = true;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  outputShape: number[];
  shaderKey = "convnetsSplitSum";

  constructor(outputShape: number[]) {
    this.outputShape = outputShape;
    this.dispatchLayout = { x: outputShape.map((_, i) => i) };
    const size = outputShape.reduce((a, b) => a * b, 1);
    this.dispatch = [Math.ceil(size / 64), 1, 1];
  }

  getUserCode(): string {
    return `
      ${main("index")} {
        if (index < uniforms.size) {
          var sum = 0.0;
          for (var s = 0; s < uniforms.splits; s = s + 1) {
            sum = sum + partial[s * uniforms.size + index];
          }
          setOutputAtIndex(index, sum);
        }
      }
    `;
  }
}

/** tfjs-backend-webgpu's `fn main()` header, as its programs write it. */
function main(index?: string): string {
  return index ? `fn main(${index} : i32)` : "fn main()";
}

/**
 * Conv2DBackpropFilter on webgpu: the split-K tiled product above for channels-last float32 inputs (every
 * convolution of the convnets networks), tfjs's own kernel (`fallback`) for anything else.
 */
export function conv2DBackpropFilterConfig(fallback?: KernelFunc): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
    const attrs = args.attrs as unknown as Conv2DBackpropFilterAttrs;
    const backend = args.backend as unknown as WebgpuBackend;
    const dataFormat = backend_util.convertConv2DDataFormat(attrs.dataFormat);
    if (dataFormat !== "channelsLast" || x.dtype !== "float32" || dy.dtype !== "float32") {
      if (!fallback)
        throw new Error(`${Conv2DBackpropFilter} on webgpu: only channels-last float32 inputs are supported here`);
      return fallback(args);
    }
    const info = backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number],
      attrs.filterShape,
      attrs.strides,
      1,
      attrs.pad,
      attrs.dimRoundingMode,
      false,
      dataFormat,
    );
    const m = info.filterHeight * info.filterWidth * info.inChannels;
    const n = info.outChannels;
    const k = info.batchSize * info.outHeight * info.outWidth;
    const { splits, chunk } = splitK(m, n, k);
    const uniforms: ProgramUniforms = [
      { type: "int32", data: [info.padInfo.top, info.padInfo.left] },
      { type: "int32", data: [info.strideHeight, info.strideWidth] },
      { type: "int32", data: [info.filterWidth] },
      { type: "int32", data: [m] },
      { type: "int32", data: [n] },
      { type: "int32", data: [k] },
      { type: "int32", data: [chunk] },
    ];
    const filterShape = [info.filterHeight, info.filterWidth, info.inChannels, info.outChannels];
    if (splits === 1) {
      return backend.runWebGPUProgram(
        new FilterGradientTilesProgram(m, n, 1, filterShape),
        [x, dy],
        "float32",
        uniforms,
      );
    }
    const partial = backend.runWebGPUProgram(
      new FilterGradientTilesProgram(m, n, splits, [splits, m, n]),
      [x, dy],
      "float32",
      uniforms,
    );
    try {
      return backend.runWebGPUProgram(new SplitSumProgram(filterShape), [partial], "float32", [
        { type: "int32", data: [splits] },
      ]);
    } finally {
      backend.disposeData(partial.dataId);
    }
  };
  return { kernelName: Conv2DBackpropFilter, backendName: "webgpu", kernelFunc };
}
