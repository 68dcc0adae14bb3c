import * as tf from "@tensorflow/tfjs-core";
import type { LayersModel } from "@tensorflow/tfjs-layers";

const XAVIER_LAYERS = new Set(["Conv2D", "Dense", "DepthwiseConv2D", "SeparableConv2D"]);

/**
 * d2l's `init_weights`: Xavier-uniform (Glorot) for every conv and dense kernel,
 * U(-a, a) with a = sqrt(6 / (fanIn + fanOut)); biases and other weights are left as built.
 * Seeded, so two runs with the same seed start from the same weights.
 */
export function initXavierUniform(model: LayersModel, seed = 0): void {
  let n = 0;
  for (const layer of model.layers) {
    if (!XAVIER_LAYERS.has(layer.getClassName())) continue;
    const kernel = layer.getWeights()[0];
    if (!kernel) continue;
    const shape = kernel.shape;
    // Conv kernels are [kh, kw, in, out]: fans include the receptive field, as in PyTorch.
    const receptive = shape.slice(0, -2).reduce((a, b) => a * b, 1);
    const fanIn = shape[shape.length - 2]! * receptive;
    const fanOut = shape[shape.length - 1]! * receptive;
    const limit = Math.sqrt(6 / (fanIn + fanOut));
    const fresh = tf.randomUniform(shape, -limit, limit, "float32", seed * 1000 + n++);
    const rest = layer.getWeights().slice(1);
    layer.setWeights([fresh, ...rest]);
    fresh.dispose();
  }
}
