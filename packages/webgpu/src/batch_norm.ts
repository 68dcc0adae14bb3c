import { type KernelConfig, type KernelFunc, type TensorInfo, util } from "@tensorflow/tfjs-core";
import type { ProgramUniforms, WebgpuBackend, WebgpuProgram } from "./program.js";

/**
 * Kernel names of training-mode batch normalisation in two calls. `@convnets/batchnorm`'s
 * `batchNormTraining` runs them where the current backend registers both (its tfjs ops otherwise); it holds
 * the same strings and does not import this package, nor this package it. Statistics per channel over all
 * leading axes (channels last):
 *
 * BatchNormTrainingForward: inputs { x, gamma, beta } (x float32 [..., C], rank ≥ 2; gamma, beta [C]),
 * attrs { epsilon }; outputs [y, centered, mean, variance, invStd], y and centered x's shape, the rest [C]:
 *
 *     mean = Σ x / m,  centered = x − mean,  variance = Σ centered² / m  (m elements per channel)
 *     invStd = 1 / sqrt(variance + epsilon),  y = centered · (gamma · invStd) + beta
 *
 * BatchNormTrainingBackward: inputs { dy, centered, invStd, gamma }; outputs [dx, dGamma, dBeta]:
 *
 *     dBeta = Σ dy,  dGamma = Σ (dy · centered) · invStd,  a = gamma · invStd,
 *     b = −a · invStd · dGamma / m,  c = −a · dBeta / m,  dx = a · dy + b · centered + c
 */
export const BATCH_NORM_TRAINING_FORWARD = "BatchNormTrainingForward";
export const BATCH_NORM_TRAINING_BACKWARD = "BatchNormTrainingBackward";

/** Channels per workgroup of the reduction passes, and rows each workgroup walks side by side. */
const CHANNELS_PER_GROUP = 64;
const ROW_LANES = 4;
/** Workgroups the reduction passes aim for; each walks at least MIN_ROWS rows. */
const TARGET_WORKGROUPS = 1024;
const MIN_ROWS = 256;

/** x seen as [rows, C]: how the rows are split among workgroups. */
export function splitRows(rows: number, channels: number): { splits: number; chunk: number } {
  const groups = Math.ceil(channels / CHANNELS_PER_GROUP);
  const splits = Math.max(1, Math.min(Math.ceil(TARGET_WORKGROUPS / groups), Math.ceil(rows / MIN_ROWS), 65535));
  const chunk = Math.ceil(rows / splits);
  return { splits: Math.ceil(rows / chunk), chunk };
}

/**
 * One pass over x as [rows, C]: each workgroup takes 64 channels of one slice of rows; its 4 row lanes keep
 * a running mean and sum of squared deviations each (Welford), merged in workgroup memory (Chan et al.).
 * Output [splits, 2, C]: each slice's mean and M2. With `product`, instead plain sums of two inputs over the
 * slice: Σ a and Σ a · b (the backward pass's Σ dy and Σ dy · centered).
 */
class ChannelPartialsProgram implements WebgpuProgram {
  variableNames: string[];
  uniforms = "channels : i32, rows : i32, chunk : i32,";
  workgroupSize: [number, number, number] = [CHANNELS_PER_GROUP, ROW_LANES, 1];
  dispatchLayout = { x: [2], y: [1], z: [0] };
  dispatch: [number, number, number];
  outputShape: number[];
  shaderKey: string;

  constructor(
    private readonly product: boolean,
    channels: number,
    splits: number,
  ) {
    this.variableNames = product ? ["a", "b"] : ["x"];
    this.shaderKey = `convnetsChannelPartials_${product}`;
    this.outputShape = [splits, 2, channels];
    this.dispatch = [Math.ceil(channels / CHANNELS_PER_GROUP), splits, 1];
  }

  getUserCode(): string {
    const update = this.product
      ? `let v = a[r * uniforms.channels + c];
              first = first + v;
              second = second + v * b[r * uniforms.channels + c];`
      : `let v = x[r * uniforms.channels + c];
              count = count + 1.0;
              let delta = v - first;
              first = first + delta / count;
              second = second + delta * (v - first);`;
    const merge = this.product
      ? `first = first + laneFirst[other][local];
            second = second + laneSecond[other][local];`
      : `let n = laneCount[other][local];
            if (n > 0.0) {
              let total = count + n;
              let delta = laneFirst[other][local] - first;
              first = first + delta * (n / total);
              second = second + laneSecond[other][local] + delta * delta * (count * n / total);
              count = total;
            }`;
    return `
      var<workgroup> laneCount : array<array<f32, ${CHANNELS_PER_GROUP}>, ${ROW_LANES}>;
      var<workgroup> laneFirst : array<array<f32, ${CHANNELS_PER_GROUP}>, ${ROW_LANES}>;
      var<workgroup> laneSecond : array<array<f32, ${CHANNELS_PER_GROUP}>, ${ROW_LANES}>;

      fn main() {
        let local = i32(localId.x);
        let lane = i32(localId.y);
        let c = i32(workgroupId.x) * ${CHANNELS_PER_GROUP} + local;
        let split = i32(workgroupId.y);
        let start = split * uniforms.chunk;
        let end = min(start + uniforms.chunk, uniforms.rows);
        var count = 0.0;
        var first = 0.0;
        var second = 0.0;
        if (c < uniforms.channels) {
          for (var r = start + lane; r < end; r = r + ${ROW_LANES}) {
            ${update}
          }
        }
        laneCount[lane][local] = count;
        laneFirst[lane][local] = first;
        laneSecond[lane][local] = second;
        workgroupBarrier();
        if (lane == 0 && c < uniforms.channels) {
          for (var other = 1; other < ${ROW_LANES}; other = other + 1) {
            ${merge}
          }
          result[(split * 2) * uniforms.channels + c] = first;
          result[(split * 2 + 1) * uniforms.channels + c] = second;
        }
      }
    `;
  }
}

/**
 * The slices' partials merged, one value per channel (which: 0 mean, 1 variance, 2 invStd for the
 * statistics; 3 dGamma, 4 dBeta for the sums, with invStd as second input).
 */
class ChannelMergeProgram implements WebgpuProgram {
  variableNames: string[];
  uniforms = "channels : i32, rows : i32, chunk : i32, splits : i32, epsilon : f32,";
  workgroupSize: [number, number, number] = [64, 1, 1];
  size = true;
  dispatchLayout = { x: [0] };
  dispatch: [number, number, number];
  outputShape: number[];
  shaderKey: string;

  constructor(
    private readonly which: number,
    channels: number,
  ) {
    // Only what the shader reads: the pipeline's layout leaves out unused bindings, and tfjs binds every input.
    this.variableNames = which === 3 ? ["partial", "invStd"] : ["partial"];
    this.shaderKey = `convnetsChannelMerge_${which}`;
    this.outputShape = [channels];
    this.dispatch = [Math.ceil(channels / 64), 1, 1];
  }

  getUserCode(): string {
    const statistics = `
          var count = 0.0;
          var mean = 0.0;
          var m2 = 0.0;
          for (var s = 0; s < uniforms.splits; s = s + 1) {
            let n = f32(min(uniforms.chunk, uniforms.rows - s * uniforms.chunk));
            let total = count + n;
            let delta = partial[(s * 2) * uniforms.channels + c] - mean;
            mean = mean + delta * (n / total);
            m2 = m2 + partial[(s * 2 + 1) * uniforms.channels + c] + delta * delta * (count * n / total);
            count = total;
          }
          let variance = m2 / count;`;
    const sums = `
          var first = 0.0;
          var second = 0.0;
          for (var s = 0; s < uniforms.splits; s = s + 1) {
            first = first + partial[(s * 2) * uniforms.channels + c];
            second = second + partial[(s * 2 + 1) * uniforms.channels + c];
          }`;
    const value = ["mean", "variance", "1.0 / sqrt(variance + uniforms.epsilon)", "second * invStd[c]", "first"][
      this.which
    ];
    return `
      fn main(c : i32) {
        if (c < uniforms.size) {
          ${this.which >= 3 ? sums : statistics}
          setOutputAtIndex(c, ${value});
        }
      }
    `;
  }
}

/** An elementwise pass over a [rows, C] tensor with per-channel operands; `expression` gives result[i]. */
class ChannelwiseProgram implements WebgpuProgram {
  uniforms = "channels : i32, count : f32,";
  workgroupSize: [number, number, number] = [64, 1, 1];
  size = true;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  shaderKey: string;

  constructor(
    readonly variableNames: string[],
    readonly outputShape: number[],
    name: string,
    private readonly expression: string,
  ) {
    this.dispatchLayout = { x: outputShape.map((_, i) => i) };
    this.dispatch = [Math.ceil(util.sizeFromShape(outputShape) / 64), 1, 1];
    this.shaderKey = `convnetsChannelwise_${name}`;
  }

  getUserCode(): string {
    return `
      fn main(i : i32) {
        if (i < uniforms.size) {
          let c = i % uniforms.channels;
          setOutputAtIndex(i, ${this.expression});
        }
      }
    `;
  }
}

function checkOperands(kernel: string, name: string, x: TensorInfo, vectors: Record<string, TensorInfo>): number {
  const channels = x.shape[x.shape.length - 1];
  if (x.dtype !== "float32" || x.shape.length < 2 || channels === undefined) {
    throw new Error(`${kernel} on webgpu: ${name} must be float32 of rank ≥ 2, got ${x.dtype} [${x.shape}]`);
  }
  for (const [vector, t] of Object.entries(vectors)) {
    if (t.dtype !== "float32" || util.sizeFromShape(t.shape) !== channels) {
      throw new Error(
        `${kernel} on webgpu: ${vector} must be float32 with ${channels} values, got ${t.dtype} [${t.shape}]`,
      );
    }
  }
  return channels;
}

const flat = (info: TensorInfo, channels: number): TensorInfo => ({ ...info, shape: [channels] });

export const batchNormTrainingForward: KernelFunc = ({ inputs, backend, attrs }) => {
  const gpu = backend as unknown as WebgpuBackend;
  const { x, gamma, beta } = inputs as { x: TensorInfo; gamma: TensorInfo; beta: TensorInfo };
  const epsilon = (attrs as { epsilon: number }).epsilon;
  const channels = checkOperands(BATCH_NORM_TRAINING_FORWARD, "x", x, { gamma, beta });
  const rows = util.sizeFromShape(x.shape) / channels;
  const { splits, chunk } = splitRows(rows, channels);
  const partial = gpu.runWebGPUProgram(new ChannelPartialsProgram(false, channels, splits), [x], "float32", [
    { type: "int32", data: [channels] },
    { type: "int32", data: [rows] },
    { type: "int32", data: [chunk] },
  ]);
  const mergeUniforms: ProgramUniforms = [
    { type: "int32", data: [channels] },
    { type: "int32", data: [rows] },
    { type: "int32", data: [chunk] },
    { type: "int32", data: [splits] },
    { type: "float32", data: [epsilon] },
  ];
  const [mean, variance, invStd] = [0, 1, 2].map((which) =>
    gpu.runWebGPUProgram(new ChannelMergeProgram(which, channels), [partial], "float32", mergeUniforms),
  ) as [TensorInfo, TensorInfo, TensorInfo];
  gpu.disposeData(partial.dataId);
  const elementwise: ProgramUniforms = [
    { type: "int32", data: [channels] },
    { type: "float32", data: [rows] },
  ];
  const centered = gpu.runWebGPUProgram(
    new ChannelwiseProgram(["x", "mean"], x.shape, "center", "x[i] - mean[c]"),
    [x, mean],
    "float32",
    elementwise,
  );
  const y = gpu.runWebGPUProgram(
    new ChannelwiseProgram(
      ["centered", "gamma", "invStd", "beta"],
      x.shape,
      "normalise",
      "centered[i] * (gamma[c] * invStd[c]) + beta[c]",
    ),
    [centered, flat(gamma, channels), invStd, flat(beta, channels)],
    "float32",
    elementwise,
  );
  return [y, centered, mean, variance, invStd];
};

export const batchNormTrainingBackward: KernelFunc = ({ inputs, backend }) => {
  const gpu = backend as unknown as WebgpuBackend;
  const { dy, centered, invStd, gamma } = inputs as {
    dy: TensorInfo;
    centered: TensorInfo;
    invStd: TensorInfo;
    gamma: TensorInfo;
  };
  const channels = checkOperands(BATCH_NORM_TRAINING_BACKWARD, "dy", dy, { invStd, gamma });
  checkOperands(BATCH_NORM_TRAINING_BACKWARD, "centered", centered, {});
  const rows = util.sizeFromShape(dy.shape) / channels;
  const { splits, chunk } = splitRows(rows, channels);
  const partial = gpu.runWebGPUProgram(new ChannelPartialsProgram(true, channels, splits), [dy, centered], "float32", [
    { type: "int32", data: [channels] },
    { type: "int32", data: [rows] },
    { type: "int32", data: [chunk] },
  ]);
  const mergeUniforms: ProgramUniforms = [
    { type: "int32", data: [channels] },
    { type: "int32", data: [rows] },
    { type: "int32", data: [chunk] },
    { type: "int32", data: [splits] },
    { type: "float32", data: [0] },
  ];
  const dGamma = gpu.runWebGPUProgram(
    new ChannelMergeProgram(3, channels),
    [partial, flat(invStd, channels)],
    "float32",
    mergeUniforms,
  );
  const dBeta = gpu.runWebGPUProgram(new ChannelMergeProgram(4, channels), [partial], "float32", mergeUniforms);
  gpu.disposeData(partial.dataId);
  const dx = gpu.runWebGPUProgram(
    new ChannelwiseProgram(
      ["dy", "centered", "gamma", "invStd", "dGamma", "dBeta"],
      dy.shape,
      "gradient",
      `dy[i] * (gamma[c] * invStd[c])
        + centered[i] * (-(gamma[c] * invStd[c]) * invStd[c] * dGamma[c] / uniforms.count)
        + (-(gamma[c] * invStd[c]) * dBeta[c] / uniforms.count)`,
    ),
    [dy, centered, flat(gamma, channels), flat(invStd, channels), dGamma, dBeta],
    "float32",
    [
      { type: "int32", data: [channels] },
      { type: "float32", data: [rows] },
    ],
  );
  return [dx, dGamma, dBeta];
};

export const batchNormTrainingForwardConfig: KernelConfig = {
  kernelName: BATCH_NORM_TRAINING_FORWARD,
  backendName: "webgpu",
  kernelFunc: batchNormTrainingForward,
};

export const batchNormTrainingBackwardConfig: KernelConfig = {
  kernelName: BATCH_NORM_TRAINING_BACKWARD,
  backendName: "webgpu",
  kernelFunc: batchNormTrainingBackward,
};
