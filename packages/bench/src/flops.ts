/**
 * Floating-point operations of one kernel call, from the shapes `tf.profile` records (it records no attributes:
 * strides, padding and transposes are read off the shapes). A multiply-add counts 2. Undefined for kernels that
 * are not a convolution or a matrix product.
 */
const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

export function kernelFlops(
  name: string,
  inputShapes: readonly (readonly number[])[],
  outputShapes: readonly (readonly number[])[],
): number | undefined {
  const out = outputShapes[0];
  if (!out) return undefined;
  switch (name) {
    case "Conv2D":
    case "FusedConv2D": {
      // x [N,H,W,Ci], filter [kh,kw,Ci,Co] → y [N,Ho,Wo,Co]: each output sums kh·kw·Ci products.
      const filter = inputShapes[1];
      if (filter?.length !== 4) return undefined;
      return 2 * size(out) * filter[0]! * filter[1]! * filter[2]!;
    }
    case "Conv2DBackpropInput": {
      // dy [N,Ho,Wo,Co], filter [kh,kw,Ci,Co] → dx [N,H,W,Ci]: the forward's products, transposed.
      const [dy, filter] = inputShapes;
      if (!dy || !filter || filter.length !== 4) return undefined;
      return 2 * size(dy) * filter[0]! * filter[1]! * filter[2]!;
    }
    case "Conv2DBackpropFilter": {
      // x [N,H,W,Ci], dy [N,Ho,Wo,Co] → dW [kh,kw,Ci,Co]: each weight sums N·Ho·Wo products.
      const dy = inputShapes[1];
      if (!dy || out.length !== 4) return undefined;
      return 2 * size(dy) * out[0]! * out[1]! * out[2]!;
    }
    case "MatMul":
    case "BatchMatMul":
    case "_FusedMatMul": {
      // a [..., M, K] or [..., K, M], b → c [..., M, N]: K from a's size over the batch and M.
      const a = inputShapes[0];
      if (!a || out.length < 2) return undefined;
      const m = out[out.length - 2]!;
      const batch = size(out) / (m * out[out.length - 1]!);
      const k = size(a) / (batch * m);
      return 2 * size(out) * k;
    }
    default:
      return undefined;
  }
}
