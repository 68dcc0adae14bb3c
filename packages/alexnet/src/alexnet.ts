import {
  type BuildOptions,
  convRelu,
  denseReluDropout,
  flatten,
  imageInput,
  logits,
  type ModelSpec,
  maxPool,
  resolveInputShape,
  resolveNumClasses,
  smallestInputSize,
  type Window,
  windowOutputSize,
} from "@convnets/model";
import { type LayersModel, model } from "@tensorflow/tfjs-layers";

/** Options of {@link alexnet}: the common `numClasses` and `inputShape`. */
export type AlexNetOptions = BuildOptions;

/** d2l §8.1 trains AlexNet on Fashion-MNIST resized to 224×224. */
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
 * input is too small for some window. 224 gives 5 (256×5×5 → 6400, as d2l §8.1 prints it).
 */
export function alexnetFeatureSize(inputSize: number): number {
  return SPATIAL_WINDOWS.reduce(windowOutputSize, inputSize);
}

/**
 * AlexNet (Krizhevsky, Sutskever & Hinton, 2012) as d2l §8.1 builds it for Fashion-MNIST:
 * five convolutions (11×11/4, 5×5, 3×3 ×3) with ReLU, three 3×3/2 max-pools, and two
 * 4096-unit dense layers with dropout 0.5 before the classifier. No local response normalisation.
 * Returns a model that outputs logits (no softmax), as `train_ch6` expects.
 */
export function alexnet(options?: AlexNetOptions): LayersModel {
  const inputShape = resolveInputShape("alexnet", options, DEFAULT_INPUT_SIZE, alexnetSpec.minInputSize);
  const numClasses = resolveNumClasses("alexnet", options);

  const images = imageInput(inputShape);
  // PyTorch's Conv2d(kernel 11, stride 4, padding 1) pads one pixel on every side; tfjs's "same"
  // pads to ceil(n / 4) instead (56, not 54, at 224), so convRelu pads explicitly (conv1_pad) and
  // convolves "valid". The 5×5 and 3×3 convolutions (padding 2 and 1, stride 1) are tfjs's "same".
  let x = convRelu(images, "conv1", { filters: 96, kernelSize: 11, strides: 4, pad: 1 });
  x = maxPool(x, "pool1", POOL);
  x = convRelu(x, "conv2", { filters: 256, kernelSize: 5, pad: 2 });
  x = maxPool(x, "pool2", POOL);
  x = convRelu(x, "conv3", { filters: 384, kernelSize: 3, pad: 1 });
  x = convRelu(x, "conv4", { filters: 384, kernelSize: 3, pad: 1 });
  x = convRelu(x, "conv5", { filters: 256, kernelSize: 3, pad: 1 });
  x = maxPool(x, "pool3", POOL);
  x = flatten(x);
  x = denseReluDropout(x, "fc1", 4096, 0.5);
  x = denseReluDropout(x, "fc2", 4096, 0.5);
  return model({ inputs: images, outputs: logits(x, numClasses), name: "alexnet" });
}

/** d2l's `nn.MaxPool2d(kernel_size=3, stride=2)`. */
const POOL = { poolSize: 3, strides: 2, pad: 0 } as const;

/** AlexNet with d2l §8.1's recipe: lr 0.01, batch 128, images resized to 224, 10 epochs. */
export const alexnetSpec: ModelSpec<AlexNetOptions> = {
  name: "alexnet",
  title: "AlexNet",
  paper:
    "Krizhevsky, Sutskever & Hinton, ImageNet Classification with Deep Convolutional Neural Networks, NeurIPS 2012",
  d2lSection: "8.1",
  defaults: { inputSize: DEFAULT_INPUT_SIZE, lr: 0.01, batchSize: 128, epochs: 10 },
  // 65: AlexNet's last max-pool then sees a 3×3 map.
  minInputSize: smallestInputSize(alexnetFeatureSize),
  build: (options) => alexnet(options),
};
