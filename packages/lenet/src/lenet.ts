import { batchNorm } from "@convnets/batchnorm";
import {
  activation,
  applyTo,
  avgPool,
  type BuildOptions,
  conv,
  dense,
  flatten,
  imageInput,
  logits,
  type ModelSpec,
  resolveInputShape,
  resolveNumClasses,
} from "@convnets/model";
import { type LayersModel, model, type SymbolicTensor } from "@tensorflow/tfjs-layers";

/** Options of {@link lenet} and {@link lenetBN}: `numClasses` (10) and `inputShape` ([28, 28, 1]). */
export type LenetOptions = BuildOptions;

/** The affine layer, then BatchNorm (`${name}_bn`) when asked, then the sigmoid (`${name}_sigmoid`): d2l §8.5 puts BatchNorm between the two. */
function sigmoidAfter(x: SymbolicTensor, name: string, withBatchNorm: boolean): SymbolicTensor {
  const normalised = withBatchNorm ? applyTo(batchNorm({ name: `${name}_bn` }), x) : x;
  return activation(normalised, `${name}_sigmoid`, "sigmoid");
}

function buildLenet(
  spec: ModelSpec<LenetOptions>,
  options: LenetOptions | undefined,
  withBatchNorm: boolean,
): LayersModel {
  const inputShape = resolveInputShape(spec.name, options, spec.defaults.inputSize, spec.minInputSize);
  const numClasses = resolveNumClasses(spec.name, options);

  const input = imageInput(inputShape);
  // LeNet pads its first convolution by 2 to keep 28×28 (PyTorch's `padding=2`: tfjs's "same" at stride 1);
  // LeNet-BN (d2l §8.5) does not.
  let x = conv(input, "conv1", { filters: 6, kernelSize: 5, pad: withBatchNorm ? 0 : 2, relu: false });
  x = avgPool(sigmoidAfter(x, "conv1", withBatchNorm), "pool1", POOL);
  x = conv(x, "conv2", { filters: 16, kernelSize: 5, relu: false });
  x = avgPool(sigmoidAfter(x, "conv2", withBatchNorm), "pool2", POOL);
  // Flattens height × width × channels (tfjs is channels-last); PyTorch's order is channels first.
  x = flatten(x);
  x = sigmoidAfter(dense(x, "fc1", 120), "fc1", withBatchNorm);
  x = sigmoidAfter(dense(x, "fc2", 84), "fc2", withBatchNorm);
  return model({ name: spec.name, inputs: input, outputs: logits(x, numClasses) });
}

/** d2l's `nn.AvgPool2d(kernel_size=2, stride=2)`. */
const POOL = { poolSize: 2, strides: 2 } as const;

/**
 * LeNet-5 as d2l §7.6 simplifies it (LeCun et al. 1998): two 5×5 convolutions (6 and 16 channels, the first
 * padded by 2) each followed by a sigmoid and 2×2 average pooling, then dense layers of 120, 84 and `numClasses`
 * units with sigmoids between them. Outputs logits. 61,706 trainable parameters at 28×28 with 10 classes.
 */
export function lenet(options?: LenetOptions): LayersModel {
  return buildLenet(lenetSpec, options, false);
}

/**
 * LeNet with batch normalisation (d2l §8.5; Ioffe & Szegedy 2015), `@convnets/batchnorm`'s BatchNorm after every
 * convolution and dense layer but the last, before its sigmoid. Unlike {@link lenet} the first convolution is not
 * padded (24×24 out of 28×28). Outputs logits. 44,878 trainable parameters at 28×28 with 10 classes, plus 452
 * moving statistics.
 */
export function lenetBN(options?: LenetOptions): LayersModel {
  return buildLenet(lenetBNSpec, options, true);
}

/** LeNet-5 with d2l's recipe: lr 0.9, batch 256, 28×28, 10 epochs. */
export const lenetSpec: ModelSpec<LenetOptions> = {
  name: "lenet",
  title: "LeNet-5",
  paper: "LeCun, Bottou, Bengio, Haffner. Gradient-Based Learning Applied to Document Recognition. Proc. IEEE, 1998",
  d2lSection: "7.6",
  defaults: { inputSize: 28, lr: 0.9, batchSize: 256, epochs: 10 },
  // conv1 keeps the size (padding 2), pool1 halves it, conv2 takes 4, pool2 halves it: ⌊(⌊s/2⌋ − 4)/2⌋ ≥ 1.
  minInputSize: 12,
  build: lenet,
};

/** LeNet with batch normalisation and d2l's recipe: lr 1.0, batch 256, 28×28, 10 epochs. */
export const lenetBNSpec: ModelSpec<LenetOptions> = {
  name: "lenet-bn",
  title: "LeNet with batch normalization",
  paper:
    "Ioffe, Szegedy. Batch Normalization: Accelerating Deep Network Training by Reducing Internal Covariate Shift. ICML, 2015",
  d2lSection: "8.5",
  defaults: { inputSize: 28, lr: 1.0, batchSize: 256, epochs: 10 },
  // conv1 is not padded and takes 4 more than LeNet's: s − 4 ≥ 12.
  minInputSize: 16,
  build: lenetBN,
};
