import { kernelNames } from "@convnets/model";
import * as tf from "@tensorflow/tfjs-core";
import type { LayersModel, layers } from "@tensorflow/tfjs-layers";
import { shareAcrossInputGradients } from "./backprop.js";

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

type Call = Conv2DInternals["call"];
/** What a layer runs in a training-mode call in place of its own `call`. */
type TrainingCall = (inputs: tf.Tensor | tf.Tensor[]) => tf.Tensor | tf.Tensor[];

/**
 * Training-mode calls that a training step runs in place of some layers' own (see skipInputGradient,
 * fuseConvolutionRelu, reluGradientFromOutput), planned without changing the model: they are in place only while
 * {@link TrainingCalls.during} runs the step's forward pass, then every layer has its own `call` back. The backward
 * pass needs no layer (it runs the gradients the forward pass recorded), so a model is never left changed: the
 * caller's layers are the same objects with the same `call` between steps and after the step is disposed.
 */
export class TrainingCalls {
  private readonly calls = new Map<layers.Layer, TrainingCall>();

  /** Whether a call is planned for `layer` already (each layer gets at most one). */
  has(layer: layers.Layer): boolean {
    return this.calls.has(layer);
  }

  /** Plans `training` for training-mode calls of `layer`; inference calls still go to the layer's own `call`. */
  set(layer: layers.Layer, training: TrainingCall): void {
    this.calls.set(layer, training);
  }

  /** Names of the layers that have a planned call. */
  get layerNames(): string[] {
    return [...this.calls.keys()].map((layer) => layer.name);
  }

  /**
   * Runs `f` (a forward pass) with the planned calls in place, then gives every layer back the `call` it had, also
   * when `f` throws. Not reentrant for the same layers: one forward pass at a time (tfjs's forward pass is synchronous).
   */
  during<T>(f: () => T): T {
    const saved: [layers.Layer, PropertyDescriptor | undefined][] = [];
    try {
      for (const [layer, training] of this.calls) {
        saved.push([layer, Object.getOwnPropertyDescriptor(layer, "call")]);
        const own = (layer as unknown as { call: Call }).call.bind(layer);
        const call: Call = (inputs, kwargs) => (kwargs?.training === true ? training(inputs) : own(inputs, kwargs));
        Object.defineProperty(layer, "call", { value: call, configurable: true, writable: true, enumerable: false });
      }
      return f();
    } finally {
      for (const [layer, own] of saved.reverse()) {
        if (own) Object.defineProperty(layer, "call", own);
        else delete (layer as unknown as { call?: Call }).call;
      }
    }
  }

  /** Plans all three, as a training step runs them: fuseConvolutionRelu, reluGradientFromOutput, then skipInputGradient. */
  static forTraining(model: LayersModel): TrainingCalls {
    const calls = new TrainingCalls();
    fuseConvolutionRelu(model, calls);
    reluGradientFromOutput(model, calls);
    skipInputGradient(model, calls);
    return calls;
  }
}

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
 * layers such as ZeroPadding2D) feeds, this plans in `calls` that training-mode calls (`training: true`) run the same
 * FusedConv2D kernel (bias fused, linear) directly, differentiated by registerFusedConv2DGradient,
 * then the activation as its own op. Inference is untouched; weights, outputs and saved models are unchanged.
 * (Computing conv2d and adding the bias apart would do too, but a broadcast Add over 6 channels
 * costs wasm 3.6 ms per LeNet step, a third of what skipping dx saves.)
 * Returns the names of the layers it planned a call for; the model itself is not changed.
 */
export function skipInputGradient(model: LayersModel, calls: TrainingCalls): string[] {
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
    if (!fusable(layer, calls) || !layer.inboundNodes.flatMap((node) => node.inboundLayers).every(isConstant)) continue;
    trainThroughFusedKernel(layer, layer as unknown as Conv2DInternals, false, calls);
    changed.push(layer.name);
  }
  return changed;
}

/**
 * Plans in `calls` that training-mode calls of every Conv2D of `model` followed by a ReLU (its own activation, or a
 * ReLU layer that alone reads it, as AlexNet, VGG and NiN build theirs) run convolution, bias and ReLU
 * as one FusedConv2D kernel, differentiated by registerFusedConv2DGradient from its output; such a
 * ReLU layer then passes its input on in training (ReLU of a ReLU output is itself).
 *
 * While gradients are recorded tfjs computes a Conv2D with ReLU as conv2d, a bias Add and Relu (it
 * declines to fuse a ReLU then), and a Conv2D and its ReLU layer as two kernels; either way the tape
 * keeps both the convolution's output (for ReLU's gradient) and the ReLU's (the next layer's input):
 * two activations per layer where one does, as ReLU's gradient needs only where the output is
 * positive. Also saves the Relu kernels forward and their Step, Cast and Multiply backward. Inference
 * is untouched; weights, outputs and saved models are unchanged. Call it before skipInputGradient:
 * layers that one planned are left as they are. Returns the names of the convolutions planned.
 */
export function fuseConvolutionRelu(model: LayersModel, calls: TrainingCalls): string[] {
  const changed: string[] = [];
  for (const layer of model.layers) {
    const conv = layer as unknown as Conv2DInternals;
    if (fusable(layer, calls) && conv.activation.getClassName() === "relu") {
      trainThroughFusedKernel(layer, conv, true, calls);
      changed.push(layer.name);
    }
    // A ReLU layer (no cap) whose only input is a linear Conv2D that nothing else reads.
    if (layer.getClassName() !== "ReLU" || (layer as unknown as { maxValue?: number | null }).maxValue != null)
      continue;
    const sources = layer.inboundNodes.flatMap((node) => node.inboundLayers);
    const source = sources[0];
    if (layer.inboundNodes.length !== 1 || sources.length !== 1 || !source || !fusable(source, calls)) continue;
    const sourceConv = source as unknown as Conv2DInternals;
    if (sourceConv.activation.getClassName() !== "linear" || source.outboundNodes.length !== 1) continue;
    trainThroughFusedKernel(source, sourceConv, true, calls);
    replaceTrainingCall(layer, (x) => tf.clone(x), calls);
    changed.push(source.name);
  }
  return changed;
}

/**
 * Plans in `calls` that training-mode calls of every ReLU layer (no cap) that fuseConvolutionRelu did not take (one after a
 * BatchNorm, an Add or a Dense, as ResNet, DenseNet and AlexNet's classifier build theirs) differentiate
 * from their output: dx = dy · step(y). tfjs's Relu gradient keeps the layer's input instead and computes
 * dy · cast(step(x)); after a BatchNorm or an Add that input is an activation their gradients do not need, so
 * keeping the output instead frees one activation per such layer after the forward pass (the next layer
 * keeps the output anyway; a Dense's fused MatMul keeps its own output for its gradient, so nothing is freed
 * there), and every such backward pass runs reluGradient (one ReluGrad kernel on wasm) without the Cast. y > 0
 * exactly where x > 0: the gradients are bit-identical. Inference is untouched. Call it after
 * fuseConvolutionRelu, whose ReLU layers it leaves. Returns the names of the layers changed.
 */
export function reluGradientFromOutput(model: LayersModel, calls: TrainingCalls): string[] {
  const changed: string[] = [];
  for (const layer of model.layers) {
    if (layer.getClassName() !== "ReLU" || calls.has(layer)) continue;
    if ((layer as unknown as { maxValue?: number | null }).maxValue != null) continue;
    replaceTrainingCall(layer, (x) => reluFromOutput(x), calls);
    changed.push(layer.name);
  }
  return changed;
}

/** ReLU whose gradient reads its output, not its input (see reluGradientFromOutput). */
const reluFromOutput = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
  const y = tf.relu(x);
  save([y]);
  return { value: y, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => reluGradient(dy, saved[0]!) };
}) as (x: tf.Tensor) => tf.Tensor;

/** The kernel `@convnets/wasm` registers for a ReLU's gradient: inputs `{ dy, y }`, dx = dy · step(y). */
const RELU_GRAD = kernelNames.ReluGrad;

/**
 * dy · step(y), a ReLU's gradient from its output y (or input: y > 0 exactly where x > 0): one ReluGrad
 * kernel where the current backend registers it (wasm, through `@convnets/wasm`: one pass, no step(y)
 * tensor), else tfjs's Step then Multiply. The same values either way.
 */
function reluGradient(dy: tf.Tensor, y: tf.Tensor): tf.Tensor {
  if (tf.getKernel(RELU_GRAD, tf.getBackend()) !== undefined)
    return tf.engine().runKernel(RELU_GRAD, { dy, y }) as tf.Tensor;
  return tf.mul(dy, tf.step(y));
}

/** Plans training-mode calls of a one-input weightless layer to run `training` on its input. */
function replaceTrainingCall(layer: layers.Layer, training: (x: tf.Tensor) => tf.Tensor, calls: TrainingCalls): void {
  calls.set(layer, (inputs) => training((Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor));
}

/**
 * Whether `layer` is a Conv2D that trainThroughFusedKernel can take: channels last, no dilation (the
 * registered gradient's limits), and not changed already.
 */
function fusable(layer: layers.Layer, calls: TrainingCalls): boolean {
  const conv = layer as unknown as Conv2DInternals;
  return (
    layer.getClassName() === "Conv2D" &&
    !calls.has(layer) &&
    conv.dataFormat === "channelsLast" &&
    conv.dilationRate.every((d) => d === 1)
  );
}

/**
 * Training-mode calls of `layer` run the FusedConv2D kernel directly (bias fused; ReLU fused if `relu`,
 * otherwise the layer's activation applied as its own op), differentiated by
 * registerFusedConv2DGradient. Inference calls go to the layer's own `call`.
 */
function trainThroughFusedKernel(
  layer: layers.Layer,
  conv: Conv2DInternals,
  relu: boolean,
  calls: TrainingCalls,
): void {
  registerFusedConv2DGradient();
  calls.set(layer, (inputs) =>
    tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
      const operands: tf.NamedTensorMap = { x, filter: conv.kernel.read() };
      if (conv.bias) operands.bias = conv.bias.read();
      const attrs = { strides: conv.strides, pad: conv.padding, dataFormat: "NHWC", dilations: conv.dilationRate };
      const y = tf
        .engine()
        .runKernel<tf.Tensor4D>(tf.FusedConv2D, operands, { ...attrs, activation: relu ? "relu" : "linear" });
      return relu ? y : conv.activation.apply(y);
    }),
  );
}

/**
 * Registers (once) a gradient for the FusedConv2D kernel run directly, with a linear or a ReLU
 * activation: one function per input (dx, dW, db), so that tfjs computes only those a trainable weight
 * needs. With ReLU the incoming gradient is first masked where the kernel's output is not positive
 * (ReLU's own gradient, step(x)·dy, as y > 0 exactly where x > 0): once for all three under
 * lossGradients, which frees the masked copy when the node's last input gradient is done; under tfjs's
 * own gradients, which would keep it through the rest of the backward pass, each function masks dy again
 * inside its own tidy.
 * tfjs's own `tf.fused.conv2d` differentiates itself with a custom gradient and never reaches this.
 */
function registerFusedConv2DGradient(): void {
  if (tf.getGradient(tf.FusedConv2D)) return;
  tf.registerGradient({
    kernelName: tf.FusedConv2D,
    inputsToSave: ["x", "filter"],
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const [x, filter, y] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
      const { strides, pad, dilations, activation, dimRoundingMode } = attrs as unknown as tf.FusedConv2DAttrs;
      const [dh, dw] = typeof dilations === "number" ? [dilations, dilations] : dilations;
      const kind = activation ?? "linear";
      if ((kind !== "linear" && kind !== "relu") || dh !== 1 || dw !== 1) {
        throw new Error(
          `FusedConv2D gradient (convnets): activation '${activation}' with dilations ${dilations} is not ` +
            "supported; only linear or relu without dilation, as skipInputGradient and fuseConvolutionRelu run it",
        );
      }
      const masked = () => reluGradient(dy as tf.Tensor, y) as tf.Tensor4D;
      const shared = kind === "relu" ? shareAcrossInputGradients(masked) : undefined;
      // The gradient each input's function starts from: dy, or dy masked (shared, else masked in its own tidy).
      const g = kind === "relu" ? () => shared ?? masked() : () => dy as tf.Tensor4D;
      return {
        x: () => tf.conv2dTranspose(g(), filter, x.shape, strides, pad as "same" | "valid", dimRoundingMode),
        filter: () =>
          tf.engine().runKernel(
            tf.Conv2DBackpropFilter,
            { x, dy: g() },
            {
              strides,
              pad,
              dataFormat: "NHWC",
              dimRoundingMode,
              filterShape: filter.shape,
            },
          ),
        bias: () => tf.sum(g(), [0, 1, 2]),
      };
    },
  });
}
