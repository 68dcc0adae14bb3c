import { batchNorm } from "@convnets/batchnorm";
import { type BuildOptions, type ModelSpec, resolveInputShape, resolveNumClasses } from "@convnets/model";
import { initializers, input, type LayersModel, layers, model, type SymbolicTensor } from "@tensorflow/tfjs-layers";

/** Options of {@link lenet} and {@link lenetBN}: `numClasses` (10) and `inputShape` ([28, 28, 1]). */
export type LenetOptions = BuildOptions;

type Tensor = SymbolicTensor;

/**
 * Smallest input side. LeNet: conv1 keeps the size (padding 2), pool1 halves it, conv2 takes 4,
 * pool2 halves it: ⌊(⌊s/2⌋ − 4)/2⌋ ≥ 1 needs s ≥ 12. LeNet-BN's conv1 is not padded and takes 4
 * more: s − 4 ≥ 12, so s ≥ 16.
 */
const LENET_MIN_INPUT = 12;
const LENET_BN_MIN_INPUT = 16;

/** Xavier-uniform kernels, zero biases as built (seed §2.1; core's `train` re-draws both as the book's PyTorch networks start). */
function weightInit() {
  return { kernelInitializer: initializers.glorotUniform({}), biasInitializer: initializers.zeros() };
}

function conv(x: Tensor, name: string, filters: number, padding: "same" | "valid"): Tensor {
  // 'same' with a 5×5 kernel and stride 1 pads 2 on every side: PyTorch's `padding=2`.
  return layers.conv2d({ name, filters, kernelSize: 5, padding, ...weightInit() }).apply(x) as Tensor;
}

function dense(x: Tensor, name: string, units: number): Tensor {
  return layers.dense({ name, units, ...weightInit() }).apply(x) as Tensor;
}

function sigmoid(x: Tensor, name: string): Tensor {
  return layers.activation({ name, activation: "sigmoid" }).apply(x) as Tensor;
}

function avgPool(x: Tensor, name: string): Tensor {
  return layers.averagePooling2d({ name, poolSize: 2, strides: 2 }).apply(x) as Tensor;
}

/** BatchNorm between the affine layer and its activation, as the seed places it (seed §3.5). */
function normalised(x: Tensor, name: string, withBatchNorm: boolean): Tensor {
  return withBatchNorm ? (batchNorm({ name: `${name}_bn` }).apply(x) as Tensor) : x;
}

function buildLenet(name: string, options: LenetOptions | undefined, withBatchNorm: boolean): LayersModel {
  const minInput = withBatchNorm ? LENET_BN_MIN_INPUT : LENET_MIN_INPUT;
  const inputShape = resolveInputShape(name, options, 28, minInput);
  const numClasses = resolveNumClasses(name, options);

  const x = input({ name: "input", shape: inputShape });
  // LeNet pads its first convolution to keep 28×28; LeNet-BN (seed §3.5) does not.
  let h = conv(x, "conv1", 6, withBatchNorm ? "valid" : "same");
  h = sigmoid(normalised(h, "conv1", withBatchNorm), "conv1_sigmoid");
  h = avgPool(h, "pool1");
  h = conv(h, "conv2", 16, "valid");
  h = sigmoid(normalised(h, "conv2", withBatchNorm), "conv2_sigmoid");
  h = avgPool(h, "pool2");
  // Flattens height × width × channels (tfjs is channels-last); PyTorch's order is channels first.
  h = layers.flatten({ name: "flatten" }).apply(h) as Tensor;
  h = sigmoid(normalised(dense(h, "dense1", 120), "dense1", withBatchNorm), "dense1_sigmoid");
  h = sigmoid(normalised(dense(h, "dense2", 84), "dense2", withBatchNorm), "dense2_sigmoid");
  const logits = dense(h, "dense3", numClasses);
  return model({ name, inputs: x, outputs: logits });
}

/**
 * LeNet-5 as d2l simplifies it (seed §2.1; LeCun et al. 1998): two 5×5 convolutions (6 and 16
 * channels, the first padded by 2) each followed by a sigmoid and 2×2 average pooling, then dense
 * layers of 120, 84 and `numClasses` units with sigmoids between them. Outputs logits.
 * 61,706 trainable parameters at 28×28 with 10 classes.
 */
export function lenet(options?: LenetOptions): LayersModel {
  return buildLenet("lenet", options, false);
}

/**
 * LeNet with the seed's from-scratch BatchNorm (seed §3.5; Ioffe & Szegedy 2015) after every
 * convolution and dense layer but the last, before its sigmoid. Unlike {@link lenet} the first
 * convolution is not padded (24×24 out of 28×28). Outputs logits. 44,878 trainable parameters
 * at 28×28 with 10 classes, plus 452 moving statistics.
 */
export function lenetBN(options?: LenetOptions): LayersModel {
  return buildLenet("lenet-bn", options, true);
}

export const lenetSpec: ModelSpec<LenetOptions> = {
  name: "lenet",
  title: "LeNet-5",
  paper: "LeCun, Bottou, Bengio, Haffner. Gradient-Based Learning Applied to Document Recognition. Proc. IEEE, 1998",
  seedSection: "2.1",
  defaults: { inputSize: 28, lr: 0.9, batchSize: 256, epochs: 10 },
  minInputSize: LENET_MIN_INPUT,
  build: lenet,
};

export const lenetBNSpec: ModelSpec<LenetOptions> = {
  name: "lenet-bn",
  title: "LeNet with batch normalization",
  paper:
    "Ioffe, Szegedy. Batch Normalization: Accelerating Deep Network Training by Reducing Internal Covariate Shift. ICML, 2015",
  seedSection: "3.5",
  defaults: { inputSize: 28, lr: 1.0, batchSize: 256, epochs: 10 },
  minInputSize: LENET_BN_MIN_INPUT,
  build: lenetBN,
};
