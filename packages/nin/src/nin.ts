import {
  applyTo,
  type BuildOptions,
  convRelu,
  dropout,
  imageInput,
  LOGITS,
  type ModelSpec,
  maxPool,
  resolveInputShape,
  resolveNumClasses,
  smallestInputSize,
  type Window,
  windowOutputSize,
} from "@convnets/model";
import { type LayersModel, layers, model, type SymbolicTensor } from "@tensorflow/tfjs-layers";

/** Options of {@link nin}: the common `numClasses` and `inputShape`. */
export type NinOptions = BuildOptions;

/** d2l §8.3 trains NiN on Fashion-MNIST resized to 224×224. */
const DEFAULT_INPUT_SIZE = 224;

/** d2l §8.3's `nin_block` arguments, less the input channels (tfjs infers them). */
export interface NinBlockOptions {
  /** Output channels of all three convolutions. */
  filters: number;
  /** Side of the first convolution's kernel; the other two are 1×1. */
  kernelSize: number;
  /** Stride of the first convolution. Default 1. */
  strides?: number;
  /** Zeros added on every side before the first convolution, as PyTorch's `padding`. Default 0. */
  padding?: number;
}

/**
 * d2l §8.3's `nin_block`: a k×k convolution and two 1×1 convolutions, each followed by
 * ReLU — an MLP applied at every pixel. Layers are named `${name}_conv1` (k×k, with `${name}_conv1_pad`
 * where it needs explicit padding), `${name}_conv2`, `${name}_conv3` (1×1), each with its `_relu`.
 */
export function ninBlock(x: SymbolicTensor, options: NinBlockOptions, name: string): SymbolicTensor {
  const { filters, kernelSize, strides = 1, padding = 0 } = options;
  for (const [key, value, min] of [
    ["filters", filters, 1],
    ["kernelSize", kernelSize, 1],
    ["strides", strides, 1],
    ["padding", padding, 0],
  ] as const) {
    if (!Number.isInteger(value) || value < min) {
      throw new Error(`ninBlock ${name}: ${key} must be an integer of at least ${min}, got ${value}`);
    }
  }
  // PyTorch pads symmetrically by `padding`. tfjs's "same" equals that only at stride 1 with
  // 2·padding = kernel − 1 (the 5×5/2 and 3×3/1 blocks); otherwise convRelu pads explicitly, in a
  // layer named `${name}_conv1_pad`, and convolves "valid".
  x = convRelu(x, `${name}_conv1`, { filters, kernelSize, strides, pad: padding });
  x = convRelu(x, `${name}_conv2`, { filters, kernelSize: 1 });
  return convRelu(x, `${name}_conv3`, { filters, kernelSize: 1 });
}

/**
 * Every window that changes the spatial size, in order: block1's 11×11/4 convolution (no
 * padding) and the three 3×3/2 max-pools; the other blocks keep the size.
 */
const SPATIAL_WINDOWS: readonly Window[] = [
  { kernel: 11, stride: 4, padding: 0 }, // block1_conv1
  { kernel: 3, stride: 2, padding: 0 }, // block1_pool
  { kernel: 3, stride: 2, padding: 0 }, // block2_pool
  { kernel: 3, stride: 2, padding: 0 }, // block3_pool
];

/**
 * Side of NiN's last feature map (the input of the global average pool) for a square input
 * side, 0 when the input is too small for some window. 224 gives 5 (10×5×5, as d2l §8.3 prints it).
 */
export function ninFeatureSize(inputSize: number): number {
  return SPATIAL_WINDOWS.reduce(windowOutputSize, inputSize);
}

/**
 * Network in Network (Lin, Chen & Yan, 2014) as d2l §8.3 builds it: four {@link ninBlock}s
 * (96 channels 11×11/4, 256 5×5, 384 3×3, then `numClasses` 3×3) with 3×3/2 max-pools between
 * them and dropout 0.5 before the last, ending in global average pooling: one value per class,
 * no dense layer (that pool is the layer named `logits`). Returns a model that outputs logits.
 */
export function nin(options?: NinOptions): LayersModel {
  const inputShape = resolveInputShape("nin", options, DEFAULT_INPUT_SIZE, ninSpec.minInputSize);
  const numClasses = resolveNumClasses("nin", options);

  const images = imageInput(inputShape);
  let x = ninBlock(images, { filters: 96, kernelSize: 11, strides: 4, padding: 0 }, "block1");
  x = maxPool(x, "block1_pool", POOL);
  x = ninBlock(x, { filters: 256, kernelSize: 5, strides: 1, padding: 2 }, "block2");
  x = maxPool(x, "block2_pool", POOL);
  x = ninBlock(x, { filters: 384, kernelSize: 3, strides: 1, padding: 1 }, "block3");
  x = maxPool(x, "block3_pool", POOL);
  x = dropout(x, "dropout", 0.5);
  x = ninBlock(x, { filters: numClasses, kernelSize: 3, strides: 1, padding: 1 }, "block4");
  // PyTorch's AdaptiveAvgPool2d((1, 1)) + Flatten in one layer: tfjs's global pool drops the 1×1.
  const logits = applyTo(layers.globalAveragePooling2d({ name: LOGITS }), x);
  return model({ inputs: images, outputs: logits, name: "nin" });
}

/** d2l's `nn.MaxPool2d(3, stride=2)` between the blocks. */
const POOL = { poolSize: 3, strides: 2, pad: 0 } as const;

/** NiN with d2l §8.3's recipe: lr 0.1, batch 128, images resized to 224, 10 epochs. */
export const ninSpec: ModelSpec<NinOptions> = {
  name: "nin",
  title: "NiN",
  paper: "Lin, Chen & Yan, Network In Network, ICLR 2014",
  d2lSection: "8.3",
  defaults: { inputSize: DEFAULT_INPUT_SIZE, lr: 0.1, batchSize: 128, epochs: 10 },
  // 67: its last max-pool then sees a 3×3 map.
  minInputSize: smallestInputSize(ninFeatureSize),
  build: (options) => nin(options),
};
