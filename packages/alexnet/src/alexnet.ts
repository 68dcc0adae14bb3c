import {
  type BuildOptions,
  type ModelSpec,
  resolveInputShape,
  resolveNumClasses,
  smallestInputSize,
  type Window,
  windowOutputSize,
} from "@convnets/core/model";
import { type LayersModel, layers, model, input as modelInput, type SymbolicTensor } from "@tensorflow/tfjs-layers";

/** Options of {@link alexnet}: the common `numClasses` and `inputShape`. */
export type AlexNetOptions = BuildOptions;

/** The seed trains AlexNet on Fashion-MNIST resized to 224×224 (seed §3.1). */
const DEFAULT_INPUT_SIZE = 224;

/**
 * Every window that changes the spatial size, in order. The 5×5 and 3×3 convolutions keep the
 * size (padding 2 and 1 at stride 1), so only conv1 and the three 3×3/2 max-pools count.
 */
const SPATIAL_WINDOWS: readonly Window[] = [
  { kernel: 11, stride: 4, padding: 1 }, // conv1
  { kernel: 3, stride: 2, padding: 0 }, // pool1
  { kernel: 3, stride: 2, padding: 0 }, // pool2
  { kernel: 3, stride: 2, padding: 0 }, // pool3
];

/**
 * Side of AlexNet's last feature map (before the flatten) for a square input side, 0 when the
 * input is too small for some window. 224 gives 5 (256×5×5 → 6400, REFERENCE.md §1).
 */
export function alexnetFeatureSize(inputSize: number): number {
  return SPATIAL_WINDOWS.reduce(windowOutputSize, inputSize);
}

/** Smallest square input side AlexNet accepts: 65 (its last max-pool then sees a 3×3 map). */
export const ALEXNET_MIN_INPUT_SIZE = smallestInputSize(alexnetFeatureSize);

/**
 * AlexNet (Krizhevsky, Sutskever & Hinton, 2012) as the seed builds it for Fashion-MNIST (§3.1):
 * five convolutions (11×11/4, 5×5, 3×3 ×3) with ReLU, three 3×3/2 max-pools, and two
 * 4096-unit dense layers with dropout 0.5 before the classifier. No local response normalisation.
 * Returns a model that outputs logits (no softmax), as `train_ch6` expects.
 */
export function alexnet(options?: AlexNetOptions): LayersModel {
  const inputShape = resolveInputShape("alexnet", options, DEFAULT_INPUT_SIZE, ALEXNET_MIN_INPUT_SIZE);
  const numClasses = resolveNumClasses("alexnet", options);

  const images = modelInput({ shape: inputShape, name: "images" });
  // PyTorch's Conv2d(kernel 11, stride 4, padding 1) pads one pixel on every side; tfjs's "same"
  // pads to ceil(n / 4) instead (56, not 54, at 224), so pad explicitly and convolve "valid".
  let x = apply(layers.zeroPadding2d({ padding: 1, name: "conv1_pad" }), images);
  x = convRelu(x, "conv1", 96, 11, 4, "valid");
  x = maxPool(x, "pool1");
  x = convRelu(x, "conv2", 256, 5, 1, "same");
  x = maxPool(x, "pool2");
  x = convRelu(x, "conv3", 384, 3, 1, "same");
  x = convRelu(x, "conv4", 384, 3, 1, "same");
  x = convRelu(x, "conv5", 256, 3, 1, "same");
  x = maxPool(x, "pool3");
  x = apply(layers.flatten({ name: "flatten" }), x);
  x = denseReluDropout(x, "fc1", 4096);
  x = denseReluDropout(x, "fc2", 4096);
  const logits = apply(layers.dense({ units: numClasses, ...INIT, name: "fc3" }), x);
  return model({ inputs: images, outputs: logits, name: "alexnet" });
}

/** Xavier-uniform kernels and zero biases, as d2l's `init_weights` sets them. */
const INIT = { kernelInitializer: "glorotUniform", biasInitializer: "zeros" } as const;

function apply(layer: { apply(x: SymbolicTensor): unknown }, x: SymbolicTensor): SymbolicTensor {
  return layer.apply(x) as SymbolicTensor;
}

function convRelu(
  x: SymbolicTensor,
  name: string,
  filters: number,
  kernelSize: number,
  strides: number,
  padding: "valid" | "same",
): SymbolicTensor {
  const y = apply(layers.conv2d({ filters, kernelSize, strides, padding, ...INIT, name }), x);
  return apply(layers.reLU({ name: `${name}_relu` }), y);
}

function maxPool(x: SymbolicTensor, name: string): SymbolicTensor {
  return apply(layers.maxPooling2d({ poolSize: 3, strides: 2, padding: "valid", name }), x);
}

/** Linear → ReLU → Dropout(0.5), the seed's hidden classifier layer. */
function denseReluDropout(x: SymbolicTensor, name: string, units: number): SymbolicTensor {
  let y = apply(layers.dense({ units, ...INIT, name }), x);
  y = apply(layers.reLU({ name: `${name}_relu` }), y);
  return apply(layers.dropout({ rate: 0.5, name: `${name}_dropout` }), y);
}

/** AlexNet with the seed's recipe: lr 0.01, batch 128, images resized to 224, 10 epochs. */
export const alexnetSpec: ModelSpec<AlexNetOptions> = {
  name: "alexnet",
  title: "AlexNet",
  paper:
    "Krizhevsky, Sutskever & Hinton, ImageNet Classification with Deep Convolutional Neural Networks, NeurIPS 2012",
  seedSection: "3.1",
  defaults: { inputSize: DEFAULT_INPUT_SIZE, lr: 0.01, batchSize: 128, epochs: 10 },
  minInputSize: ALEXNET_MIN_INPUT_SIZE,
  build: (options) => alexnet(options),
};
