import type { DataType, TensorInfo } from "@tensorflow/tfjs-core";

/**
 * The parts of tfjs-backend-webgpu 4.22 that our programs use, declared here so that this package needs no
 * type from it at run time (importing the backend registers it, which in Node needs `navigator.gpu` first).
 *
 * A program's `getUserCode()` defines `fn main()` (or `fn main(index : i32)` for a flat dispatch layout).
 * tfjs adds a uniform struct with each input's and the output's shape and strides (`uniforms.xShape`,
 * `uniforms.outShape`, …), then `size` where `size` is set, then the program's own `uniforms` in the order
 * they are passed; each input is an `array<f32>` named as in `variableNames`, the output `result`.
 */
export interface WebgpuProgram {
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[]; y?: number[]; z?: number[] };
  dispatch: [number, number, number];
  variableNames: string[];
  uniforms?: string;
  size?: boolean;
  workgroupSize: [number, number, number];
  getUserCode(): string;
}

export type ProgramUniforms = { type: "int32" | "uint32" | "float32"; data: number[] }[];

export interface WebgpuBackend {
  runWebGPUProgram(
    program: WebgpuProgram,
    inputs: TensorInfo[],
    outputDtype: DataType,
    uniforms?: ProgramUniforms,
  ): TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
}
