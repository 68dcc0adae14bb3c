import type { BuildOptions } from "./spec.js";

/**
 * Resolves a builder's input shape and refuses one smaller than the architecture's minimum,
 * before any layer is built (a too-small input otherwise fails deep inside a pooling layer).
 */
export function resolveInputShape(
  modelName: string,
  options: BuildOptions | undefined,
  defaultSize: number,
  minInputSize: number,
): [number, number, number] {
  const shape = options?.inputShape ?? [defaultSize, defaultSize, 1];
  if (shape.length !== 3 || shape.some((d) => !Number.isInteger(d) || d <= 0)) {
    throw new Error(
      `${modelName}: inputShape must be [height, width, channels] with positive integers, got ${JSON.stringify(shape)}`,
    );
  }
  const [h, w] = shape;
  if (h < minInputSize || w < minInputSize) {
    throw new Error(
      `${modelName}: input ${h}×${w} is too small; the smallest input this network accepts is ${minInputSize}×${minInputSize}. Use an inputSize of at least ${minInputSize}.`,
    );
  }
  return shape;
}

/** Resolves `numClasses`, refusing anything but a positive integer. */
export function resolveNumClasses(modelName: string, options: BuildOptions | undefined): number {
  const n = options?.numClasses ?? 10;
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`${modelName}: numClasses must be a positive integer, got ${n}`);
  }
  return n;
}
