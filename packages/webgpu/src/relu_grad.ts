import { type KernelConfig, type KernelFunc, type TensorInfo, util } from "@tensorflow/tfjs-core";
import type { WebgpuBackend, WebgpuProgram } from "./program.js";

/**
 * Kernel name of a ReLU's gradient from its output, as TensorFlow's `ReluGrad`: inputs `{ dy, y }` (float32,
 * same shape; y the ReLU's output, or its input: y > 0 exactly where x > 0), output dx = dy · step(y), no
 * attrs. tfjs defines no such kernel; `@convnets/core` looks it up for the ReLU gradients of a training step
 * and runs tfjs's `mul(dy, step(y))` (two kernel calls and a temporary) where it is not registered.
 */
export const RELU_GRAD = "ReluGrad";

class ReluGradProgram implements WebgpuProgram {
  variableNames = ["dy", "y"];
  workgroupSize: [number, number, number] = [64, 1, 1];
  size = true;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  shaderKey = "convnetsReluGrad";

  constructor(readonly outputShape: number[]) {
    this.dispatchLayout = { x: outputShape.map((_, i) => i) };
    this.dispatch = [Math.ceil(util.sizeFromShape(outputShape) / 64), 1, 1];
  }

  getUserCode(): string {
    // step(y) as tfjs computes it: 1 where y > 0, NaN where y is NaN, else 0; times dy (−0 where dy < 0).
    return `
      fn main(i : i32) {
        if (i < uniforms.size) {
          let v = y[i];
          setOutputAtIndex(i, dy[i] * select(select(0.0, 1.0, v > 0.0), v, isnan(v)));
        }
      }
    `;
  }
}

export const reluGrad: KernelFunc = ({ inputs, backend }) => {
  const { dy, y } = inputs as { dy: TensorInfo; y: TensorInfo };
  if (dy.dtype !== "float32" || y.dtype !== "float32") {
    throw new Error(`${RELU_GRAD} on webgpu: dy is ${dy.dtype} and y is ${y.dtype}; both must be float32`);
  }
  if (!util.arraysEqual(dy.shape, y.shape)) {
    throw new Error(`${RELU_GRAD} on webgpu: dy [${dy.shape}] and y [${y.shape}] must have the same shape`);
  }
  return (backend as unknown as WebgpuBackend).runWebGPUProgram(new ReluGradProgram(dy.shape), [dy, y], "float32");
};

export const reluGradConfig: KernelConfig = { kernelName: RELU_GRAD, backendName: "webgpu", kernelFunc: reluGrad };
