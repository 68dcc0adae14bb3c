// Layer helpers for functional-API networks written after the book's PyTorch code (d2l chapters 7 and 8). Every
// network package builds with these; the names they give follow the rules in this package's README.

import type { SymbolicTensor } from "@tensorflow/tfjs-layers";
import * as tfl from "@tensorflow/tfjs-layers";

/**
 * Xavier-uniform kernels and zero biases, as built. The training loop re-draws both as the book's PyTorch networks
 * start (d2l's `init_weights`; see initXavierUniform): these only make a fresh model usable before that.
 */
export const XAVIER_INIT = { kernelInitializer: "glorotUniform", biasInitializer: "zeros" } as const;

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
    ...XAVIER_INIT,
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
 * `nn.Conv2d(…)` then `nn.ReLU()` as two layers, `name` and `${name}_relu`: a ReLU the book's shape walk prints on
 * its own line (AlexNet, VGG, NiN), where {@link conv} fuses it into the convolution.
 */
export function convRelu(x: SymbolicTensor, name: string, args: ConvArgs): SymbolicTensor {
  return applyTo(tfl.layers.reLU({ name: `${name}_relu` }), conv(x, name, { ...args, relu: false }));
}

/** `nn.AvgPool2d(kernel_size, stride)`, unpadded. */
export function avgPool(x: SymbolicTensor, name: string, args: { poolSize: number; strides: number }): SymbolicTensor {
  return applyTo(tfl.layers.averagePooling2d({ ...args, padding: "valid", name }), x);
}

/** `nn.Linear(…, units)` with Xavier-uniform kernel, then `activation` fused in the same layer (default none). */
export function dense(
  x: SymbolicTensor,
  name: string,
  units: number,
  activation: "linear" | "relu" = "linear",
): SymbolicTensor {
  return applyTo(tfl.layers.dense({ units, activation, ...XAVIER_INIT, name }), x);
}

/** An activation as its own layer (`nn.Sigmoid()`, `nn.ReLU()`): `${name}` is usually the layer it follows plus `_sigmoid` or `_relu`. */
export function activation(x: SymbolicTensor, name: string, kind: "sigmoid" | "relu"): SymbolicTensor {
  return applyTo(kind === "relu" ? tfl.layers.reLU({ name }) : tfl.layers.activation({ activation: kind, name }), x);
}

/** `nn.Flatten()`, named `flatten`. tfjs flattens height × width × channels (channels last); PyTorch channels first. */
export function flatten(x: SymbolicTensor): SymbolicTensor {
  return applyTo(tfl.layers.flatten({ name: "flatten" }), x);
}

/** `nn.Dropout(rate)`. */
export function dropout(x: SymbolicTensor, name: string, rate: number): SymbolicTensor {
  return applyTo(tfl.layers.dropout({ rate, name }), x);
}

/**
 * `nn.Linear → nn.ReLU → nn.Dropout`, the hidden classifier layer of AlexNet and VGG: layers `${name}`,
 * `${name}_relu`, `${name}_dropout`.
 */
export function denseReluDropout(x: SymbolicTensor, name: string, units: number, rate: number): SymbolicTensor {
  return dropout(activation(dense(x, name, units), `${name}_relu`, "relu"), `${name}_dropout`, rate);
}

/** The classifier: `nn.Linear(…, numClasses)` to the logits, the layer every network names `logits`. */
export function logits(x: SymbolicTensor, numClasses: number): SymbolicTensor {
  return dense(x, LOGITS, numClasses);
}

/** Name of the layer that outputs the logits, in every network. */
export const LOGITS = "logits";
/** Name of the input layer, in every network. */
export const INPUT = "input";

/**
 * `nn.AdaptiveAvgPool2d((1, 1))`, `nn.Flatten()` and `nn.Linear(…, numClasses)`: global average pooling
 * (layer `global_pool`; tfjs's already drops the 1×1) into the Xavier-uniform dense layer `logits`.
 * Returns the logits.
 */
export function globalAvgPoolClassifier(x: SymbolicTensor, numClasses: number): SymbolicTensor {
  return logits(applyTo(tfl.layers.globalAveragePooling2d({ name: "global_pool" }), x), numClasses);
}

/** The model's input, `[height, width, channels]` images, as the layer every network names `input`. */
export function imageInput(shape: [number, number, number]): SymbolicTensor {
  return tfl.input({ shape, name: INPUT });
}
