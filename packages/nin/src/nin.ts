import {
  applyTo,
  type BuildOptions,
  convRelu,
  type ModelSpec,
  maxPool,
  resolveInputShape,
  resolveNumClasses,
  smallestInputSize,
  type Window,
  windowOutputSize,
} from "@convnets/model";
import { type LayersModel, layers, model, input as modelInput, type SymbolicTensor } from "@tensorflow/tfjs-layers";

/** Options of {@link nin}: the common `numClasses` and `inputShape`. */
export type NinOptions = BuildOptions;

/** The seed trains NiN on Fashion-MNIST resized to 224×224 (seed §3.3). */
const DEFAULT_INPUT_SIZE = 224;

/** The seed's `nin_block` arguments, less the input channels (tfjs infers them). */
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
 * The seed's `nin_block` (§3.3): a k×k convolution and two 1×1 convolutions, each followed by
 * ReLU — an MLP applied at every pixel. Layers are named `${name}_conv1` (k×k),
 * `${name}_conv2`, `${name}_conv3` (1×1), each with its `_relu`.
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
  // layer named `${name}_pad`, and convolves "valid".
  x = convRelu(x, `${name}_conv1`, { filters, kernelSize, strides, pad: padding, padName: `${name}_pad` });
  x = convRelu(x, `${name}_conv2`, { filters, kernelSize: 1 });
  return convRelu(x, `${name}_conv3`, { filters, kernelSize: 1 });
}

/**
 * Every window that changes the spatial size, in order: block1's 11×11/4 convolution (no
 * padding) and the three 3×3/2 max-pools; the other blocks keep the size.
 */
const SPATIAL_WINDOWS: readonly Window[] = [
  { kernel: 11, stride: 4, padding: 0 }, // block1_conv1
  { kernel: 3, stride: 2, padding: 0 }, // pool1
  { kernel: 3, stride: 2, padding: 0 }, // pool2
  { kernel: 3, stride: 2, padding: 0 }, // pool3
];

/**
 * Side of NiN's last feature map (the input of the global average pool) for a square input
 * side, 0 when the input is too small for some window. 224 gives 5 (10×5×5, REFERENCE.md §1).
 */
export function ninFeatureSize(inputSize: number): number {
  return SPATIAL_WINDOWS.reduce(windowOutputSize, inputSize);
}

/** Smallest square input side NiN accepts: 67 (its last max-pool then sees a 3×3 map). */
export const NIN_MIN_INPUT_SIZE = smallestInputSize(ninFeatureSize);

/**
 * Network in Network (Lin, Chen & Yan, 2014) as the seed builds it (§3.3): four {@link ninBlock}s
 * (96 channels 11×11/4, 256 5×5, 384 3×3, then `numClasses` 3×3) with 3×3/2 max-pools between
 * them and dropout 0.5 before the last, ending in global average pooling: one value per class,
 * no dense layer. Returns a model that outputs logits.
 */
export function nin(options?: NinOptions): LayersModel {
  const inputShape = resolveInputShape("nin", options, DEFAULT_INPUT_SIZE, NIN_MIN_INPUT_SIZE);
  const numClasses = resolveNumClasses("nin", options);

  const images = modelInput({ shape: inputShape, name: "images" });
  let x = ninBlock(images, { filters: 96, kernelSize: 11, strides: 4, padding: 0 }, "block1");
  x = maxPool(x, "pool1", POOL);
  x = ninBlock(x, { filters: 256, kernelSize: 5, strides: 1, padding: 2 }, "block2");
  x = maxPool(x, "pool2", POOL);
  x = ninBlock(x, { filters: 384, kernelSize: 3, strides: 1, padding: 1 }, "block3");
  x = maxPool(x, "pool3", POOL);
  x = applyTo(layers.dropout({ rate: 0.5, name: "dropout" }), x);
  x = ninBlock(x, { filters: numClasses, kernelSize: 3, strides: 1, padding: 1 }, "block4");
  // PyTorch's AdaptiveAvgPool2d((1, 1)) + Flatten in one layer: tfjs's global pool drops the 1×1.
  const logits = applyTo(layers.globalAveragePooling2d({ name: "global_avg_pool" }), x);
  return model({ inputs: images, outputs: logits, name: "nin" });
}

/** The seed's `nn.MaxPool2d(3, stride=2)` between the blocks. */
const POOL = { poolSize: 3, strides: 2, pad: 0 } as const;

/** NiN with the seed's recipe: lr 0.1, batch 128, images resized to 224, 10 epochs. */
export const ninSpec: ModelSpec<NinOptions> = {
  name: "nin",
  title: "NiN",
  paper: "Lin, Chen & Yan, Network In Network, ICLR 2014",
  seedSection: "3.3",
  defaults: { inputSize: DEFAULT_INPUT_SIZE, lr: 0.1, batchSize: 128, epochs: 10 },
  minInputSize: NIN_MIN_INPUT_SIZE,
  build: (options) => nin(options),
};
