import type * as tf from "@tensorflow/tfjs-core";

export type { BuildOptions, ModelSpec, Recipe } from "@convnets/model";

/** A batch of images and labels, channels-last float32 in [0, 1]. */
export interface Batch {
  xs: tf.Tensor4D;
  /** Integer class labels, int32, shape [n]. */
  labels: tf.Tensor1D;
  size: number;
}
