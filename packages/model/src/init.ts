import * as tf from "@tensorflow/tfjs-core";
import type { LayersModel } from "@tensorflow/tfjs-layers";

/** Layers whose first weight is a kernel [..., in, out] that d2l's `init_weights` re-draws. */
const XAVIER_LAYERS = new Set(["Conv2D", "Dense", "DepthwiseConv2D", "SeparableConv2D"]);
/** Layers whose bias PyTorch's `nn.Conv2d` / `nn.Linear` draw from U(−1/√fanIn, 1/√fanIn). */
const PYTORCH_BIAS_LAYERS = new Set(["Conv2D", "Dense"]);

/**
 * The weights the book's networks start from: d2l's `init_weights` re-draws every conv and dense kernel
 * Xavier-uniform (Glorot), U(−a, a) with a = √(6 / (fanIn + fanOut)), and leaves the biases as PyTorch's
 * `nn.Conv2d` / `nn.Linear` made them: U(−1/√fanIn, 1/√fanIn), fanIn = input channels × kernel area. Other
 * weights (BatchNorm's γ, β and moving statistics) are left as built. Seeded, so two runs with the same seed
 * start from the same weights.
 *
 * Random biases matter to the networks without BatchNorm: with tfjs's zero biases GoogLeNet left the initial
 * ln 10 plateau about an epoch sooner than PyTorch on every seed (the trainer README's "Fidelity").
 */
export function initXavierUniform(model: LayersModel, seed = 0): void {
  let n = 0;
  const draw = (shape: number[], limit: number) => tf.randomUniform(shape, -limit, limit, "float32", seed * 1000 + n++);
  for (const layer of model.layers) {
    if (!XAVIER_LAYERS.has(layer.getClassName())) continue;
    const [kernel, ...rest] = layer.getWeights();
    if (!kernel) continue;
    const shape = kernel.shape;
    // Conv kernels are [kh, kw, in, out]: fans include the receptive field, as in PyTorch.
    const receptive = shape.slice(0, -2).reduce((a, b) => a * b, 1);
    const fanIn = shape[shape.length - 2]! * receptive;
    const fanOut = shape[shape.length - 1]! * receptive;
    const drawn = [draw(shape, Math.sqrt(6 / (fanIn + fanOut)))];
    const bias = rest[0];
    if (PYTORCH_BIAS_LAYERS.has(layer.getClassName()) && bias && rest.length === 1) {
      drawn.push(draw(bias.shape, 1 / Math.sqrt(fanIn)));
      layer.setWeights(drawn);
    } else {
      layer.setWeights([drawn[0]!, ...rest]);
    }
    tf.dispose(drawn);
  }
}
