import type * as tf from "@tensorflow/tfjs-core";
import type { LayersModel } from "@tensorflow/tfjs-layers";

/** The book's training recipe for a network (d2l's `train_ch6` settings, from the network's section of d2l.ai). */
export interface Recipe {
  /** Square side the 28×28 Fashion-MNIST images are resized to (bilinear). */
  inputSize: number;
  /** SGD learning rate. */
  lr: number;
  batchSize: number;
  epochs: number;
}

/** Options every network builder accepts; networks add their own knobs. */
export interface BuildOptions {
  /** Number of output classes (logits). Default 10. */
  numClasses?: number;
  /** Channels-last input shape `[height, width, channels]`. Default `[inputSize, inputSize, 1]`. */
  inputShape?: [number, number, number];
}

/** A network as the trainer sees it: how to build it and how the book trains it. */
export interface ModelSpec<O extends BuildOptions = BuildOptions> {
  /** Registry name, lowercase with dashes: `lenet`, `lenet-bn`, `resnet18`. */
  name: string;
  /** Human title: `LeNet-5`, `ResNet-18`. */
  title: string;
  /** The paper the architecture comes from. */
  paper: string;
  /** Section of "Dive into Deep Learning" (d2l.ai) that builds it, e.g. `8.6` for ResNet. */
  bookSection?: string;
  /** @deprecated The project's study-notes numbering, which users cannot open: give {@link bookSection}. */
  seedSection?: string;
  /** The book's recipe. */
  defaults: Recipe;
  /** Smallest square input side the architecture accepts. */
  minInputSize: number;
  /** Builds a fresh, untrained model that outputs logits. */
  build(options?: O): LayersModel;
}

/** A batch of images and labels, channels-last float32 in [0, 1]. */
export interface Batch {
  xs: tf.Tensor4D;
  /** Integer class labels, int32, shape [n]. */
  labels: tf.Tensor1D;
  size: number;
}
