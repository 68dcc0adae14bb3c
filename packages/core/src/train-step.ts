import * as tf from "@tensorflow/tfjs-core";
import type { LayersModel } from "@tensorflow/tfjs-layers";
import { lossGradients } from "./backprop.js";
import { TrainingCalls } from "./input-gradient.js";

/** Outputs of one step; the caller reads and disposes them. */
export interface StepResult {
  /** Mean softmax cross-entropy of the batch. */
  loss: tf.Scalar;
  /** Number of examples whose arg-max logit is the label (int32). */
  correct: tf.Scalar;
}

/**
 * One minibatch SGD step of d2l's `train_ch6`: softmax cross-entropy on the model's logits, gradients
 * of this model's trainable weights only (a bare `optimizer.minimize` would update every trainable
 * variable alive in the process), computed by lossGradients, which frees memory as the backward pass
 * goes; BatchNorm and dropout in training mode, no gradient with respect to the images (see
 * skipInputGradient), each convolution with ReLU as one fused kernel (see fuseConvolutionRelu) and every
 * other ReLU layer differentiated from its output (see reluGradientFromOutput). Those are the step's own
 * {@link TrainingCalls}, in place only during its forward pass: the model it is given is left as it was.
 * The one place a training step is defined: the loop, the trainer's estimate and the benchmarks all
 * time this.
 */
export class TrainStep {
  readonly optimizer: tf.SGDOptimizer;
  private readonly variables: tf.Variable[];
  private readonly numClasses: number;
  /** The model's Dropout layers, whose `seed` each step sets (tfjs-layers draws their masks from it). */
  private readonly dropouts: { seed?: number }[];
  private readonly seed: number;
  private steps = 0;
  /** The training-mode calls this step runs in place of some layers' own, during its forward pass only. */
  private readonly calls: TrainingCalls;

  /**
   * `seed` (default 0) and the step's index fix the dropout masks: the same run repeats exactly, and a
   * run resumed at step k draws the masks the uninterrupted run drew there.
   */
  constructor(
    private readonly model: LayersModel,
    lr: number,
    options: { seed?: number } = {},
  ) {
    this.optimizer = tf.train.sgd(lr);
    this.variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
    this.numClasses = model.outputs[0]!.shape[1] as number;
    this.seed = options.seed ?? 0;
    this.dropouts = model.layers.filter((layer) => layer.getClassName() === "Dropout") as unknown as {
      seed?: number;
    }[];
    this.calls = TrainingCalls.forTraining(model);
  }

  /** One step on a batch. `stepIndex`: this step's place in the run (default: the steps this TrainStep ran). */
  run(xs: tf.Tensor4D, labels: tf.Tensor1D, stepIndex = this.steps): StepResult {
    const { loss, correct, grads } = this.gradients(xs, labels, stepIndex);
    this.optimizer.applyGradients(grads);
    tf.dispose(Object.values(grads));
    return { loss, correct };
  }

  /**
   * The step without its update: loss, correct count and the gradient of each trainable weight (by variable
   * name; the caller disposes all three), with step `stepIndex`'s dropout masks. Counts as that step: the next
   * default index follows it. `run` is this plus the SGD update; a check that compares engines reads these.
   */
  gradients(xs: tf.Tensor4D, labels: tf.Tensor1D, stepIndex = this.steps): StepResult & { grads: tf.NamedTensorMap } {
    this.steps = stepIndex + 1;
    this.dropouts.forEach((layer, i) => {
      layer.seed = dropoutSeed(this.seed, stepIndex, i);
    });
    let correct: tf.Scalar | undefined;
    const { value: loss, grads } = lossGradients(() => {
      const logits = this.calls.during(() => this.model.apply(xs, { training: true })) as tf.Tensor2D;
      correct = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), labels), "int32"))) as tf.Scalar;
      return tf.losses.softmaxCrossEntropy(tf.oneHot(labels, this.numClasses), logits) as tf.Scalar;
    }, this.variables);
    const named: tf.NamedTensorMap = {};
    this.variables.forEach((v, i) => {
      if (grads[i]) named[v.name] = grads[i]!;
    });
    return { loss, correct: correct!, grads: named };
  }

  dispose(): void {
    this.optimizer.dispose();
  }
}

/** A 32-bit seed for dropout layer `layer` at step `step` of a run seeded `seed` (a multiplicative hash of the three). */
export function dropoutSeed(seed: number, step: number, layer: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ (step + 0x632be5ab), 0xc2b2ae35);
  h = Math.imul(h ^ (layer + 0x27d4eb2f), 0x165667b1);
  return (h ^ (h >>> 15)) >>> 0;
}
