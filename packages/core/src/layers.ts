// Layer helpers for functional-API networks written after the d2l book's PyTorch code.
import * as tfl from "@tensorflow/tfjs-layers";
import type { SymbolicTensor } from "@tensorflow/tfjs-layers";

/** Applies a layer to symbolic tensors (tfjs types `apply` as returning a union). */
export function applyTo(layer: tfl.layers.Layer, x: SymbolicTensor | SymbolicTensor[]): SymbolicTensor {
  return layer.apply(x) as SymbolicTensor;
}

/**
 * PyTorch pads symmetrically: `pad` pixels on every side, out = floor((n + 2·pad − k) / s) + 1.
 * tfjs's 'same' does exactly that only at stride 1 with pad = (k − 1) / 2. At stride 2 on an even
 * input it puts the odd pixel of padding at the bottom/right (PyTorch: top/left), which shifts
 * every window by one pixel; there we pad explicitly and use 'valid'.
 */
function pytorchPadding(
  x: SymbolicTensor,
  padName: string,
  kernelSize: number,
  strides: number,
  pad: number,
): { input: SymbolicTensor; padding: "same" | "valid" } {
  if (pad === 0) return { input: x, padding: "valid" };
  if (strides === 1 && 2 * pad === kernelSize - 1) return { input: x, padding: "same" };
  return { input: applyTo(tfl.layers.zeroPadding2d({ padding: pad, name: padName }), x), padding: "valid" };
}

/** The arguments of `nn.Conv2d` tfjs cannot infer, and the name of the padding layer it may need. */
export interface ConvArgs {
  filters: number;
  kernelSize: number;
  /** Default 1. */
  strides?: number;
  /** Zeros on every side, as PyTorch's `padding`. Default 0. */
  pad?: number;
  /** Name of the ZeroPadding2D layer, where tfjs's own padding cannot do (see above). Default `${name}_pad`. */
  padName?: string;
}

/** `nn.Conv2d(…, kernel_size, stride, padding)` followed by a ReLU (fused) unless `relu: false`. */
export function conv(x: SymbolicTensor, name: string, args: ConvArgs & { relu?: boolean }): SymbolicTensor {
  const { filters, kernelSize, strides = 1, pad = 0, padName = `${name}_pad`, relu = true } = args;
  const { input, padding } = pytorchPadding(x, padName, kernelSize, strides, pad);
  const layer = tfl.layers.conv2d({
    filters,
    kernelSize,
    strides,
    padding,
    activation: relu ? "relu" : "linear",
    kernelInitializer: "glorotUniform",
    biasInitializer: "zeros",
    name,
  });
  return applyTo(layer, input);
}

/**
 * `nn.MaxPool2d(kernel_size, stride, padding)`. PyTorch pads max pooling with −∞, the explicit
 * padding here is zeros: the same result only when no input is below 0, i.e. after a ReLU (true of
 * every padded max pool in GoogLeNet, ResNet and DenseNet). Do not use it with padding on signed inputs.
 */
export function maxPool(
  x: SymbolicTensor,
  name: string,
  args: { poolSize: number; strides: number; pad: number },
): SymbolicTensor {
  const { poolSize, strides, pad } = args;
  const { input, padding } = pytorchPadding(x, `${name}_pad`, poolSize, strides, pad);
  return applyTo(tfl.layers.maxPooling2d({ poolSize, strides, padding, name }), input);
}

/**
 * `nn.Conv2d(…)` then `nn.ReLU()` as two layers, `name` and `${name}_relu`: a ReLU the book's walk prints on
 * its own line (AlexNet, VGG, NiN), where {@link conv} fuses it into the convolution.
 */
export function convRelu(x: SymbolicTensor, name: string, args: ConvArgs): SymbolicTensor {
  return applyTo(tfl.layers.reLU({ name: `${name}_relu` }), conv(x, name, { ...args, relu: false }));
}

/**
 * `nn.AdaptiveAvgPool2d((1, 1))`, `nn.Flatten()` and `nn.Linear(…, numClasses)`: global average pooling
 * (layer `poolName`; tfjs's already drops the 1×1) into a Xavier-uniform dense layer `fc` with zero biases.
 * Returns the logits.
 */
export function globalAvgPoolClassifier(x: SymbolicTensor, numClasses: number, poolName: string): SymbolicTensor {
  const pooled = applyTo(tfl.layers.globalAveragePooling2d({ name: poolName }), x);
  return applyTo(
    tfl.layers.dense({ units: numClasses, kernelInitializer: "glorotUniform", biasInitializer: "zeros", name: "fc" }),
    pooled,
  );
}
