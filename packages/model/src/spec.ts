import type { LayersModel } from "@tensorflow/tfjs-layers";

/** A network's training recipe: d2l's `train_ch6` settings for it (the book's chapter on the network). */
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
  /**
   * Section of *Dive into Deep Learning* (d2l.ai, the English edition) that builds and trains it, e.g. `8.6` for
   * ResNet.
   */
  d2lSection?: string;
  /** The book's recipe. */
  defaults: Recipe;
  /** Smallest square input side the architecture accepts. */
  minInputSize: number;
  /** Builds a fresh, untrained model that outputs logits. */
  build(options?: O): LayersModel;
}
