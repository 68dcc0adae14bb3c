import * as tf from "@tensorflow/tfjs-core";
import type { layers, LayersModel } from "@tensorflow/tfjs-layers";

/** What a tfjs-layers Conv2D holds, as this module reads it (the fields are not part of tfjs's typings). */
interface Conv2DInternals {
  kernel: { read(): tf.Tensor4D };
  bias: { read(): tf.Tensor1D } | null;
  strides: [number, number];
  padding: "valid" | "same";
  dataFormat: "channelsFirst" | "channelsLast";
  dilationRate: [number, number];
  activation: { apply(x: tf.Tensor): tf.Tensor; getClassName(): string };
  call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor | tf.Tensor[];
}

/** Layers already changed, so that a second TrainStep on the same model changes nothing. */
const unfused = new WeakSet<layers.Layer>();

/**
 * Stops a training step from computing the gradient of a loss with respect to the input images.
 *
 * tfjs-layers computes a Conv2D whose activation is linear, or one it cannot fuse (sigmoid, tanh…),
 * with `tf.fused.conv2d`, also in training; that op's gradient computes dx, dW and db together, so
 * the first convolution of LeNet, LeNet-BN, ResNet, DenseNet and GoogLeNet pays for a dx nobody
 * uses: 10 of LeNet's 74 ms per step on wasm (Conv2DBackpropInput [256,28,28,6] → [256,28,28,1]).
 * (With relu or elu, tf.fused.conv2d computes conv2d, a broadcast bias Add and the activation apart
 * while taking gradients; that skips dx already, but the Add is slow on wasm for few channels.)
 * A gradient registered per kernel gives one function per input, and tfjs skips those of inputs no
 * trainable weight leads to. So for every Conv2D of `model` that only the input (through weightless
 * layers such as ZeroPadding2D) feeds, training-mode calls (`training: true`) run the same
 * FusedConv2D kernel (bias fused, linear) directly, differentiated by registerFusedConv2DGradient,
 * then the activation as its own op. Inference is untouched; weights, outputs and saved models are unchanged.
 * (Computing conv2d and adding the bias apart would do too, but a broadcast Add over 6 channels
 * costs wasm 3.6 ms per LeNet step, a third of what skipping dx saves.)
 * Returns the names of the layers changed.
 */
export function skipInputGradient(model: LayersModel): string[] {
  const constant = new Map<layers.Layer, boolean>();
  const isConstant = (layer: layers.Layer): boolean => {
    const known = constant.get(layer);
    if (known !== undefined) return known;
    const inbound = layer.inboundNodes.flatMap((node) => node.inboundLayers);
    const result =
      layer.getClassName() === "InputLayer" ||
      (layer.trainableWeights.length === 0 && inbound.length > 0 && inbound.every(isConstant));
    constant.set(layer, result);
    return result;
  };
  const changed: string[] = [];
  for (const layer of model.layers) {
    if (layer.getClassName() !== "Conv2D" || unfused.has(layer)) continue;
    const conv = layer as unknown as Conv2DInternals;
    if (conv.dataFormat !== "channelsLast") continue;
    if (!layer.inboundNodes.flatMap((node) => node.inboundLayers).every(isConstant)) continue;
    registerFusedConv2DGradient();
    const fusedCall = conv.call.bind(conv);
    conv.call = (inputs, kwargs) => {
      if (kwargs?.training !== true) return fusedCall(inputs, kwargs);
      return tf.tidy(() => {
        const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
        const operands: tf.NamedTensorMap = { x, filter: conv.kernel.read() };
        if (conv.bias) operands.bias = conv.bias.read();
        const attrs = { strides: conv.strides, pad: conv.padding, dataFormat: "NHWC", dilations: conv.dilationRate };
        const y = tf.engine().runKernel<tf.Tensor4D>(tf.FusedConv2D, operands, { ...attrs, activation: "linear" });
        return conv.activation.apply(y);
      });
    };
    unfused.add(layer);
    changed.push(layer.name);
  }
  return changed;
}

/**
 * Registers (once) a gradient for the FusedConv2D kernel run directly, with a linear activation: one
 * function per input (dx, dW, db), so that tfjs computes only those a trainable weight needs.
 * tfjs's own `tf.fused.conv2d` differentiates itself with a custom gradient and never reaches this.
 */
function registerFusedConv2DGradient(): void {
  if (tf.getGradient(tf.FusedConv2D)) return;
  tf.registerGradient({
    kernelName: tf.FusedConv2D,
    inputsToSave: ["x", "filter"],
    gradFunc: (dy, saved, attrs) => {
      const [x, filter] = saved as [tf.Tensor4D, tf.Tensor4D];
      const { strides, pad, dilations, activation, dimRoundingMode } = attrs as unknown as tf.FusedConv2DAttrs;
      const [dh, dw] = typeof dilations === "number" ? [dilations, dilations] : dilations;
      if ((activation ?? "linear") !== "linear" || dh !== 1 || dw !== 1) {
        throw new Error(
          `FusedConv2D gradient (convnets): activation '${activation}' with dilations ${dilations} is not ` +
            "supported; only a linear activation without dilation, as skipInputGradient runs it",
        );
      }
      const g = dy as tf.Tensor4D;
      return {
        x: () => tf.conv2dTranspose(g, filter, x.shape, strides, pad as "same" | "valid", dimRoundingMode),
        filter: () =>
          tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy: g }, {
            strides,
            pad,
            dataFormat: "NHWC",
            dimRoundingMode,
            filterShape: filter.shape,
          }),
        bias: () => tf.sum(g, [0, 1, 2]),
      };
    },
  });
}
