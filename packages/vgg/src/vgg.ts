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
} from "@convnets/model";
import { type LayersModel, model, type SymbolicTensor } from "@tensorflow/tfjs-layers";

/** One VGG block as d2l §8.2's `vgg_block(num_convs, in_channels, out_channels)` takes it. */
export type VggBlockSpec = readonly [numConvs: number, channels: number];

/** A VGG architecture: its blocks in order, d2l's `conv_arch`. */
export type VggArch = readonly VggBlockSpec[];

/** A frozen table, so a caller cannot change VGG-11 for everyone by editing it. */
function table(...blocks: VggBlockSpec[]): VggArch {
  return Object.freeze(blocks.map((block) => Object.freeze([...block]) as unknown as VggBlockSpec));
}

/** VGG-11 (configuration A of the paper), d2l §8.2's `conv_arch`. */
export const VGG11_ARCH: VggArch = table([1, 64], [1, 128], [2, 256], [2, 512], [2, 512]);
/** VGG-13 (configuration B). */
export const VGG13_ARCH: VggArch = table([2, 64], [2, 128], [2, 256], [2, 512], [2, 512]);
/** VGG-16 (configuration D). */
export const VGG16_ARCH: VggArch = table([2, 64], [2, 128], [3, 256], [3, 512], [3, 512]);
/** VGG-19 (configuration E). */
export const VGG19_ARCH: VggArch = table([2, 64], [2, 128], [4, 256], [4, 512], [4, 512]);

export interface VggOptions extends BuildOptions {
  /**
   * Divides every convolution's channel count (integer division, as the d2l book's
   * `pair[1] // ratio`); the 4096-unit dense layers stay as they are. Default 1 (the paper's
   * widths); the book trains VGG-11 with 4. A positive integer no larger than the narrowest block.
   */
  widthDivisor?: number;
}

/** d2l §8.2 trains VGG on Fashion-MNIST resized to 224×224. */
const DEFAULT_INPUT_SIZE = 224;

/**
 * Smallest square input side a VGG table accepts: each block ends in a 2×2/2 max-pool (its 3×3
 * convolutions keep the size), so n blocks need 2ⁿ pixels for a 1×1 last feature map (32 for the
 * five-block tables).
 */
function vggMinInputSize(convArch: VggArch): number {
  return 2 ** convArch.length;
}

/** Side of the last feature map for a square input side: each block halves it, rounding down. */
export function vggFeatureSize(convArch: VggArch, inputSize: number): number {
  return convArch.reduce((n) => Math.floor(n / 2), inputSize);
}

/**
 * d2l §8.2's `vgg_block`: `numConvs` 3×3 convolutions (padding 1) each followed by ReLU, then a
 * 2×2 max-pool with stride 2. Layers are named `${name}_conv1`, `${name}_conv1_relu`, …,
 * `${name}_pool`.
 */
export function vggBlock(x: SymbolicTensor, numConvs: number, channels: number, name: string): SymbolicTensor {
  for (let i = 1; i <= numConvs; i++) {
    x = convRelu(x, `${name}_conv${i}`, { filters: channels, kernelSize: 3, pad: 1 });
  }
  return maxPool(x, `${name}_pool`, { poolSize: 2, strides: 2, pad: 0 });
}

/**
 * VGG (Simonyan & Zisserman, 2015) as d2l §8.2's `vgg(conv_arch)` builds it: one
 * {@link vggBlock} per `[numConvs, channels]` row of `convArch` (named `block1` …), then
 * flatten, two 4096-unit dense layers with ReLU and dropout 0.5 (`fc1`, `fc2`), and the classifier (`logits`).
 * Returns a model that outputs logits.
 */
export function vgg(convArch: VggArch, options?: VggOptions): LayersModel {
  return buildVgg("vgg", convArch, options);
}

function buildVgg(modelName: string, convArch: VggArch, options: VggOptions | undefined): LayersModel {
  validateArch(modelName, convArch);
  const widthDivisor = resolveWidthDivisor(modelName, convArch, options?.widthDivisor);
  const inputShape = resolveInputShape(modelName, options, DEFAULT_INPUT_SIZE, vggMinInputSize(convArch));
  const numClasses = resolveNumClasses(modelName, options);

  const images = imageInput(inputShape);
  let x = images;
  convArch.forEach(([numConvs, channels], i) => {
    x = vggBlock(x, numConvs, Math.floor(channels / widthDivisor), `block${i + 1}`);
  });
  x = flatten(x);
  x = denseReluDropout(x, "fc1", 4096, 0.5);
  x = denseReluDropout(x, "fc2", 4096, 0.5);
  return model({ inputs: images, outputs: logits(x, numClasses), name: modelName });
}

/** VGG-11, the network d2l §8.2 trains: 8 convolutions, 3 dense layers. */
export function vgg11(options?: VggOptions): LayersModel {
  return buildVgg("vgg11", VGG11_ARCH, options);
}
/** VGG-13: 10 convolutions, 3 dense layers. */
export function vgg13(options?: VggOptions): LayersModel {
  return buildVgg("vgg13", VGG13_ARCH, options);
}
/** VGG-16: 13 convolutions, 3 dense layers. */
export function vgg16(options?: VggOptions): LayersModel {
  return buildVgg("vgg16", VGG16_ARCH, options);
}
/** VGG-19: 16 convolutions, 3 dense layers. */
export function vgg19(options?: VggOptions): LayersModel {
  return buildVgg("vgg19", VGG19_ARCH, options);
}

/** The width divisor the d2l book trains VGG-11 with (`ratio = 4`), and {@link vgg11Spec}'s default. */
export const VGG11_BOOK_WIDTH_DIVISOR = 4;

const PAPER = "Simonyan & Zisserman, Very Deep Convolutional Networks for Large-Scale Image Recognition, ICLR 2015";
/** d2l §8.2's recipe for VGG-11, which the deeper tables take too: lr 0.05, batch 128, images resized to 224, 10 epochs. */
const RECIPE = { inputSize: DEFAULT_INPUT_SIZE, lr: 0.05, batchSize: 128, epochs: 10 } as const;

/** A VGG table's spec: d2l §8.2's recipe, built with the book's `widthDivisor: 4` unless told otherwise. */
function vggSpec(
  name: string,
  depth: number,
  convArch: VggArch,
  build: (options?: VggOptions) => LayersModel,
): ModelSpec<VggOptions> {
  return {
    name,
    title: `VGG-${depth} (channels ÷ 4)`,
    paper: PAPER,
    d2lSection: "8.2",
    defaults: { ...RECIPE },
    minInputSize: vggMinInputSize(convArch),
    build: (options) => build({ widthDivisor: VGG11_BOOK_WIDTH_DIVISOR, ...options }),
  };
}

/**
 * VGG-11 with d2l §8.2's recipe (lr 0.05, batch 128, images resized to 224, 10 epochs). It builds
 * with `widthDivisor: 4` unless told otherwise, because that is the network the d2l book trains
 * and reports (43,093,322 parameters; the full width has 128,806,154 and is ~16× slower).
 */
export const vgg11Spec: ModelSpec<VggOptions> = vggSpec("vgg11", 11, VGG11_ARCH, vgg11);
/** VGG-13 with VGG-11's recipe and width (channels ÷ 4 unless told otherwise). */
export const vgg13Spec: ModelSpec<VggOptions> = vggSpec("vgg13", 13, VGG13_ARCH, vgg13);
/** VGG-16 with VGG-11's recipe and width (channels ÷ 4 unless told otherwise). */
export const vgg16Spec: ModelSpec<VggOptions> = vggSpec("vgg16", 16, VGG16_ARCH, vgg16);
/** VGG-19 with VGG-11's recipe and width (channels ÷ 4 unless told otherwise). */
export const vgg19Spec: ModelSpec<VggOptions> = vggSpec("vgg19", 19, VGG19_ARCH, vgg19);

function validateArch(modelName: string, convArch: VggArch): void {
  const ok =
    Array.isArray(convArch) &&
    convArch.length > 0 &&
    convArch.every(
      (block) => Array.isArray(block) && block.length === 2 && block.every((v) => Number.isInteger(v) && v > 0),
    );
  if (!ok) {
    throw new Error(
      `${modelName}: convArch must be a non-empty list of [numConvs, channels] pairs of positive integers, like [[1, 64], [1, 128], [2, 256], [2, 512], [2, 512]]; got ${JSON.stringify(convArch)}`,
    );
  }
}

function resolveWidthDivisor(modelName: string, convArch: VggArch, widthDivisor = 1): number {
  const narrowest = Math.min(...convArch.map(([, channels]) => channels));
  if (!Number.isInteger(widthDivisor) || widthDivisor < 1 || widthDivisor > narrowest) {
    throw new Error(
      `${modelName}: widthDivisor must be an integer from 1 to ${narrowest} (the narrowest block's channels), got ${widthDivisor}. Use 1 for the paper's widths or 4 as the d2l book trains VGG-11.`,
    );
  }
  return widthDivisor;
}
