import { kernelNames } from "@convnets/model";
import * as tf from "@tensorflow/tfjs-core";
import { serialization } from "@tensorflow/tfjs-core";
import { initializers, type LayerVariable, layers, type Shape } from "@tensorflow/tfjs-layers";

/** The base arguments every tfjs-layers layer takes (`name`, `trainable`, `inputShape`, …). */
export type LayerArgs = NonNullable<ConstructorParameters<typeof layers.Layer>[0]>;

/** Arguments of {@link ConvnetsBatchNorm}. */
export interface BatchNormArgs extends LayerArgs {
  /**
   * Weight of the old moving statistic in `moving = momentum * moving + (1 - momentum) * batch`.
   * Default 0.9, d2l §8.5's value. PyTorch's `nn.BatchNorm2d(momentum=0.1)` is the same update
   * written the other way round (its momentum is our `1 - momentum`).
   */
  momentum?: number;
  /** Added to the variance before the square root. Default 1e-5, d2l §8.5's value. */
  epsilon?: number;
}

/** The keyword arguments tfjs-layers passes to `call()`; `training` is the one read here. */
type Kwargs = { [key: string]: unknown };

const DEFAULT_MOMENTUM = 0.9;
const DEFAULT_EPSILON = 1e-5;

/**
 * The from-scratch batch normalisation of d2l §8.5 (Ioffe & Szegedy, 2015), as a tfjs-layers layer:
 *
 *     training:   y = gamma * (x - mean_B) / sqrt(var_B + eps) + beta
 *                 moving = momentum * moving + (1 - momentum) * batch_statistic
 *     inference:  y = gamma * (x - moving_mean) / sqrt(moving_var + eps) + beta
 *
 * `var_B` is the biased batch variance (mean of squared deviations), also in the moving update.
 * Dense input `[batch, features]`: statistics per feature over the batch. Image input
 * `[batch, height, width, channels]` (channels-last, as tfjs convolutions produce): statistics per
 * channel over batch, height and width. Any other rank is refused.
 *
 * Registered for serialisation under its own class name, `ConvnetsBatchNorm`: reusing
 * `BatchNormalization` would replace tfjs's built-in layer in the class registry.
 */
export class ConvnetsBatchNorm extends layers.Layer {
  static className = "ConvnetsBatchNorm";

  readonly momentum: number;
  readonly epsilon: number;

  private gamma?: LayerVariable;
  private beta?: LayerVariable;
  private movingMean?: LayerVariable;
  private movingVariance?: LayerVariable;

  constructor(args: BatchNormArgs = {}) {
    super(args);
    const momentum = args.momentum ?? DEFAULT_MOMENTUM;
    const epsilon = args.epsilon ?? DEFAULT_EPSILON;
    if (!(Number.isFinite(momentum) && momentum >= 0 && momentum <= 1)) {
      throw new Error(
        `ConvnetsBatchNorm: momentum must be a number in [0, 1] (weight of the old moving statistic; d2l §8.5 uses 0.9), got ${momentum}`,
      );
    }
    if (!(Number.isFinite(epsilon) && epsilon > 0)) {
      throw new Error(`ConvnetsBatchNorm: epsilon must be a positive number (d2l §8.5 uses 1e-5), got ${epsilon}`);
    }
    this.momentum = momentum;
    this.epsilon = epsilon;
    this.supportsMasking = true;
  }

  override build(inputShape: Shape | Shape[]): void {
    const shape = singleShape(inputShape);
    const features = featureCount(this.name, shape);
    // Weights are [features]: they broadcast against the last axis of both 2-D and 4-D inputs.
    this.gamma = this.addWeight("gamma", [features], "float32", initializers.ones(), undefined, true);
    this.beta = this.addWeight("beta", [features], "float32", initializers.zeros(), undefined, true);
    // State, not parameters: saved with the model, never touched by the optimizer.
    this.movingMean = this.addWeight("moving_mean", [features], "float32", initializers.zeros(), undefined, false);
    this.movingVariance = this.addWeight(
      "moving_variance",
      [features],
      "float32",
      initializers.ones(),
      undefined,
      false,
    );
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      const reductionAxes = statisticAxes(this.name, x.shape);
      const gamma = this.gamma!.read();
      const beta = this.beta!.read();

      if (kwargs["training"] !== true) {
        const xHat = tf.div(
          tf.sub(x, this.movingMean!.read()),
          tf.sqrt(tf.add(this.movingVariance!.read(), this.epsilon)),
        );
        return tf.add(tf.mul(gamma, xHat), beta);
      }

      // Same minibatch for the statistics and the transform (d2l §8.5). One op with its own
      // gradient (batchNormTraining): the gradient still flows through mean and var back to x,
      // which is what makes this batch normalisation, but written in closed form.
      const { y, mean, variance } = batchNormTraining(x, gamma, beta, reductionAxes, this.epsilon);
      try {
        this.updateMovingStatistic(this.movingMean!, mean);
        this.updateMovingStatistic(this.movingVariance!, variance);
      } finally {
        tf.dispose([mean, variance]);
      }
      return y;
    });
  }

  /** `moving = momentum * moving + (1 - momentum) * batch`, written in place (training only). */
  private updateMovingStatistic(moving: LayerVariable, batch: tf.Tensor): void {
    // tidy: the intermediates (and the old value, released by assign) must not outlive the step.
    tf.tidy(() => {
      const updated = tf.add(tf.mul(moving.read(), this.momentum), tf.mul(batch, 1 - this.momentum));
      moving.write(updated);
    });
  }

  override getConfig(): serialization.ConfigDict {
    return { ...super.getConfig(), momentum: this.momentum, epsilon: this.epsilon };
  }
}

serialization.registerClass(ConvnetsBatchNorm);

/**
 * A {@link ConvnetsBatchNorm} layer: d2l §8.5's BatchNorm (momentum 0.9, eps 1e-5, biased
 * variance) for dense `[batch, features]` or channels-last image `[batch, h, w, c]` inputs.
 *
 * ```ts
 * const x = tf.input({ shape: [28, 28, 1] });
 * const y = batchNorm({ name: "conv1_bn" }).apply(tf.layers.conv2d({ filters: 6, kernelSize: 5 }).apply(x));
 * ```
 */
export function batchNorm(args?: BatchNormArgs): ConvnetsBatchNorm {
  return new ConvnetsBatchNorm(args);
}

function singleShape(inputShape: Shape | Shape[]): Shape {
  // tfjs passes a list of shapes for multi-input layers; this layer has exactly one input.
  if (Array.isArray(inputShape) && inputShape.length > 0 && Array.isArray(inputShape[0])) {
    if (inputShape.length !== 1) {
      throw new Error(`ConvnetsBatchNorm: expects exactly one input, got ${inputShape.length}`);
    }
    return inputShape[0] as Shape;
  }
  return inputShape as Shape;
}

function featureCount(layerName: string, shape: Shape): number {
  statisticAxes(layerName, shape);
  const features = shape[shape.length - 1];
  if (features == null) {
    throw new Error(
      `ConvnetsBatchNorm '${layerName}': the last (feature/channel) axis of input shape ${JSON.stringify(shape)} must be known to create gamma, beta and the moving statistics`,
    );
  }
  return features;
}

/** The axes the statistics are taken over: everything but the last (feature or channel) axis. */
function statisticAxes(layerName: string, shape: readonly (number | null)[]): number[] {
  if (shape.length === 2) return [0];
  if (shape.length === 4) return [0, 1, 2];
  throw new Error(
    `ConvnetsBatchNorm '${layerName}': input must be 2-D [batch, features] (after a dense layer) or 4-D [batch, height, width, channels] (after a conv layer, channels-last), got rank ${shape.length} with shape ${JSON.stringify(shape)}. Flatten or reshape the input first.`,
  );
}

/**
 * Kernel names {@link batchNormTraining} looks up on the current backend: training-mode batch
 * normalisation in two kernel calls instead of ~15 elementwise and reduction kernels. A backend that
 * registers both (`@convnets/core` does on wasm, with WebAssembly SIMD loops) gets them; any other
 * runs the tfjs ops. The contract (statistics per channel over all leading axes, channels last):
 *
 * - `BatchNormTrainingForward`: inputs `{ x, gamma, beta }` (x float32 `[..., C]`, rank ≥ 2; gamma and
 *   beta `[C]`), attrs `{ epsilon }`; outputs `[y, centered, mean, variance, invStd]` (y and centered
 *   x's shape, the rest `[C]`), the forward math of batchNormTraining below.
 * - `BatchNormTrainingBackward`: inputs `{ dy, centered, invStd, gamma }`; outputs
 *   `[dx, dGamma, dBeta]` (dx dy's shape, the others `[C]`), its closed-form gradient.
 */
export const BATCH_NORM_TRAINING_FORWARD = kernelNames.BatchNormTrainingForward;
export const BATCH_NORM_TRAINING_BACKWARD = kernelNames.BatchNormTrainingBackward;

/** `enabled = false` makes {@link batchNormTraining} run its tfjs ops even where the kernels exist (tests, benchmarks). */
export const batchNormKernels = { enabled: true };

/**
 * Whether batchNormTraining can use the kernels: both registered on the current backend, statistics
 * over exactly the leading axes, float32 x, gamma and beta of shape [C].
 */
function kernelsApply(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, axes: number[]): boolean {
  if (!batchNormKernels.enabled || x.dtype !== "float32" || x.rank < 2) return false;
  if (axes.length !== x.rank - 1 || !axes.every((axis, i) => axis === i)) return false;
  const channels = x.shape[x.rank - 1]!;
  for (const v of [gamma, beta]) {
    if (v.dtype !== "float32" || v.rank !== 1 || v.shape[0] !== channels) return false;
  }
  const backend = tf.getBackend();
  return (
    tf.getKernel(BATCH_NORM_TRAINING_FORWARD, backend) !== undefined &&
    tf.getKernel(BATCH_NORM_TRAINING_BACKWARD, backend) !== undefined
  );
}

/** What {@link batchNormTraining} returns. */
export interface BatchNormTrainingResult {
  /** `gamma * (x - mean) / sqrt(variance + eps) + beta`, recorded on the gradient tape as one op. */
  y: tf.Tensor;
  /**
   * The batch mean and biased batch variance, shape `[features]`, for the moving-average update.
   * They carry no gradient and belong to no `tf.tidy` scope: the caller disposes them.
   */
  mean: tf.Tensor;
  variance: tf.Tensor;
}

/**
 * Training-mode batch normalisation as one op with a closed-form gradient (`tf.customGrad`), in
 * place of the ~8 ops whose gradients tfjs would otherwise chain (and whose full-size inputs the
 * gradient tape would keep: x − mean, its square, xHat, gamma · xHat).
 *
 * Forward, per feature over `axes` (m = elements per feature):
 *
 *     mean = Σ x / m,   centered = x − mean,   var = Σ centered² / m   (two passes, biased)
 *     invStd = 1 / sqrt(var + eps),   y = centered · (gamma · invStd) + beta
 *
 * The variance is `mean((x − mean)²)`, not `mean(x²) − mean²`: on LeNet-BN's activations
 * (|mean| up to ~12 std) the one-pass form is off by up to 7e-6 relative even with exact sums.
 *
 * Saved for the backward pass: `centered` (the one full-size tensor), `invStd` and `gamma`.
 * Backward, the standard batch-norm gradient, with xHat = centered · invStd:
 *
 *     dBeta = Σ dy,   dGamma = Σ dy · xHat,   dx = gamma · invStd · (dy − dBeta / m − xHat · dGamma / m)
 *
 * computed as dx = a · dy + b · centered + c with per-feature a, b, c. Gradients go to `x`, `gamma`
 * and `beta` only. Sums over the leading axes are plain `tf.sum` / `tf.mean`, so any backend works.
 *
 * Where the current backend registers the kernels {@link BATCH_NORM_TRAINING_FORWARD} and
 * {@link BATCH_NORM_TRAINING_BACKWARD} and `axes` are all the leading axes, the same forward and
 * gradient are two kernel calls (same outputs, same saved tensors); otherwise the tfjs ops above.
 */
export function batchNormTraining(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  axes: number[],
  epsilon: number,
): BatchNormTrainingResult {
  let mean: tf.Tensor | undefined;
  let variance: tf.Tensor | undefined;
  if (kernelsApply(x, gamma, beta, axes)) {
    const fused = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const [x, gamma, beta, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
      const [y, centered, batchMean, batchVariance, invStd] = tf
        .engine()
        .runKernel(BATCH_NORM_TRAINING_FORWARD, { x, gamma, beta }, { epsilon }) as tf.Tensor[];
      // customGrad tidies the rest (centered and invStd live on as the saved clones).
      mean = tf.keep(batchMean!);
      variance = tf.keep(batchVariance!);
      save([centered!, invStd!, gamma]);
      return {
        value: y!,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
          tf.tidy(() => {
            const [centered, invStd, gamma] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
            return tf.engine().runKernel(BATCH_NORM_TRAINING_BACKWARD, { dy, centered, invStd, gamma }) as tf.Tensor[];
          }),
      };
    });
    const y = fused(x, gamma, beta);
    return { y, mean: mean!, variance: variance! };
  }
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, gamma, beta, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    // customGrad runs this function inside a tidy: the statistics are kept past it for the caller.
    mean = tf.keep(tf.mean(x, axes));
    const centered = tf.sub(x, mean);
    variance = tf.keep(tf.mean(tf.square(centered), axes)); // biased: divides by m
    const invStd = tf.rsqrt(tf.add(variance, epsilon));
    const y = tf.add(tf.mul(centered, tf.mul(gamma, invStd)), beta);
    save([centered, invStd, gamma]);
    return {
      value: y,
      // tfjs runs a custom gradient outside any tidy and would keep every tensor it creates until
      // the whole backward pass ends; this tidy frees the full-size temporaries right away.
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [centered, invStd, gamma] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
          const m = centered.size / centered.shape[centered.rank - 1]!;
          const dBeta = tf.sum(dy, axes);
          const dGamma = tf.mul(tf.sum(tf.mul(dy, centered), axes), invStd); // Σ dy · xHat
          const a = tf.mul(gamma, invStd);
          const b = tf.mul(a, tf.mul(invStd, tf.div(dGamma, -m))); // −gamma · invStd² · dGamma / m
          const c = tf.mul(a, tf.div(dBeta, -m)); // −gamma · invStd · dBeta / m
          const dx = tf.add(tf.add(tf.mul(dy, a), tf.mul(centered, b)), c);
          return [dx, dGamma, dBeta];
        }),
    };
  });
  const y = op(x, gamma, beta);
  return { y, mean: mean!, variance: variance! };
}
