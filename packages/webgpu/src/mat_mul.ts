import type * as tf from "@tensorflow/tfjs-core";

/**
 * tfjs-backend-webgpu 4.22 computes a matrix product with `transposeB` wrongly when it picks its split-K
 * program (one product, inner size ≥ 2000, few output tiles): that program reads B four values at a time
 * along the wrong axis (relative error ~1.5 on `[4, 4096] × [256, 4096]ᵀ`). A dense layer's input gradient
 * is exactly that product (dy · Wᵀ), so AlexNet and VGG trained wrong below their fc layers at small batches.
 * The products that could take that program get B transposed first, then run untransposed.
 */
const SPLIT_K_INNER_SIZE = 2000;

/** The product's batch size and inner size, as tfjs-backend-webgpu's batchMatMulImpl computes them. */
function mayTakeSplitK(a: tf.TensorInfo, b: tf.TensorInfo, transposeB: boolean): boolean {
  const batch = (shape: number[]) => shape.slice(0, -2).reduce((p, d) => p * d, 1);
  const inner = transposeB ? b.shape[b.shape.length - 1]! : b.shape[b.shape.length - 2]!;
  return transposeB && Math.max(batch(a.shape), batch(b.shape)) === 1 && inner >= SPLIT_K_INNER_SIZE;
}

/**
 * BatchMatMul or _FusedMatMul for webgpu that avoids the wrong split-K product: `builtin` (tfjs's kernel)
 * with B transposed first where tfjs could take that program, `builtin` as it is elsewhere.
 */
export function matMulConfig(builtin: tf.KernelConfig, transposeKernel: tf.KernelConfig): tf.KernelConfig {
  const kernelFunc: tf.KernelFunc = (args) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const attrs = args.attrs as { transposeB?: boolean };
    if (!mayTakeSplitK(a, b, attrs.transposeB === true)) return builtin.kernelFunc(args);
    const perm = b.shape.map((_, i) => i);
    [perm[perm.length - 2], perm[perm.length - 1]] = [perm[perm.length - 1]!, perm[perm.length - 2]!];
    const bT = transposeKernel.kernelFunc({
      inputs: { x: b },
      backend: args.backend,
      attrs: { perm },
    }) as tf.TensorInfo;
    try {
      return builtin.kernelFunc({
        ...args,
        inputs: { ...args.inputs, b: bT },
        attrs: { ...args.attrs, transposeB: false },
      });
    } finally {
      (args.backend as tf.KernelBackend).disposeData(bT.dataId);
    }
  };
  return { ...builtin, kernelFunc };
}
