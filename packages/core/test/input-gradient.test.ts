import "@tensorflow/tfjs-backend-cpu";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { beforeAll, describe, expect, it } from "vitest";
import {
  fuseConvolutionRelu,
  lossGradients,
  reluGradientFromOutput,
  setupEngine,
  skipInputGradient,
  TrainingCalls,
  TrainStep,
} from "../src/index.js";

/**
 * The TrainingCalls these tests plan for a model, in place for every `model.apply` of the test (a TrainStep puts
 * them in place for its own forward pass only).
 */
const plans = new WeakMap<tfl.LayersModel, TrainingCalls>();
function planOf(model: tfl.LayersModel): TrainingCalls {
  let calls = plans.get(model);
  if (!calls) {
    const planned = new TrainingCalls();
    calls = planned;
    plans.set(model, planned);
    const apply = model.apply.bind(model);
    model.apply = ((x, kwargs) => planned.during(() => apply(x, kwargs))) as typeof model.apply;
  }
  return calls;
}

/** Input → padding → conv (relu, or sigmoid: computed fused-linear + sigmoid) → conv (linear) → dense. */
function smallNet(activation: "sigmoid" | "relu" = "sigmoid"): tfl.LayersModel {
  const input = tfl.input({ shape: [9, 8, 1] });
  const padded = tfl.layers.zeroPadding2d({ padding: 1 }).apply(input);
  const first = tfl.layers.conv2d({ name: "first", filters: 4, kernelSize: 3, activation }).apply(padded);
  const second = tfl.layers.conv2d({ name: "second", filters: 3, kernelSize: 3, strides: 2 }).apply(first);
  const logits = tfl.layers.dense({ units: 5 }).apply(tfl.layers.flatten().apply(second));
  return tfl.model({ inputs: input, outputs: logits as tfl.SymbolicTensor });
}

/** Two models with the same weights; `skipInputGradient` applied to the first. */
function pair(activation: "sigmoid" | "relu" = "sigmoid"): [tfl.LayersModel, tfl.LayersModel, string[]] {
  const patched = smallNet(activation);
  const plain = smallNet(activation);
  plain.setWeights(patched.getWeights());
  return [patched, plain, skipInputGradient(patched, planOf(patched))];
}

const images = () => tf.randomUniform([6, 9, 8, 1], -1, 1, "float32", 3);
const loss = (model: tfl.LayersModel, x: tf.Tensor) =>
  tf.sum(tf.square(model.apply(x, { training: true }) as tf.Tensor)) as tf.Scalar;

function relativeError(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]! / tf.max(tf.abs(b)).dataSync()[0]!);
}

beforeAll(async () => {
  await setupEngine("wasm");
});

/** The model's trainable weights, as a training step differentiates them. */
const variables = (model: tfl.LayersModel) => model.trainableWeights.map((w) => w.read() as tf.Variable);

/**
 * One loss-gradient pass of `model` on `x` (training mode, all trainable weights): the data buffers alive at
 * the start of the backward pass beyond those alive before (every tensor the tape saved is alive then), and
 * the kernels it ran, in order.
 */
async function backwardPass(model: tfl.LayersModel, x: tf.Tensor): Promise<{ kept: number; kernels: string[] }> {
  let alive = 0;
  const probe = tf.customGrad((...inputs) => ({
    value: tf.clone(inputs[0] as tf.Tensor),
    gradFunc: (dy: tf.Tensor) => {
      alive = tf.memory().numDataBuffers;
      return dy;
    },
  }));
  const before = tf.memory().numDataBuffers;
  const info = await tf.profile(() => {
    const { value, grads } = lossGradients(
      () => tf.sum(tf.square(probe(model.apply(x, { training: true }) as tf.Tensor) as tf.Tensor)) as tf.Scalar,
      variables(model),
    );
    tf.dispose([value, ...grads.filter((g) => g !== null)]);
  });
  return { kept: alive - before, kernels: info.kernels.map((k) => k.name) };
}

describe.each(["wasm", "cpu"])("skipInputGradient on %s", (backend) => {
  beforeAll(async () => {
    await tf.setBackend(backend);
  });

  it("changes only the convolution the input alone feeds, once", () => {
    const [patched, , changed] = pair();
    expect(changed).toEqual(["first"]);
    expect(skipInputGradient(patched, planOf(patched))).toEqual([]);
  });

  it.each(["sigmoid", "relu"] as const)("weight gradients equal those of the unchanged model (%s)", (activation) => {
    const [patched, plain] = pair(activation);
    const x = images();
    const ours = tf.variableGrads(
      () => loss(patched, x),
      patched.trainableWeights.map((w) => w.read() as tf.Variable),
    );
    const theirs = tf.variableGrads(
      () => loss(plain, x),
      plain.trainableWeights.map((w) => w.read() as tf.Variable),
    );
    const names = patched.trainableWeights.map((w) => (w.read() as tf.Variable).name);
    const plainNames = plain.trainableWeights.map((w) => (w.read() as tf.Variable).name);
    expect(names.length).toBe(6);
    for (const [i, name] of names.entries()) {
      expect(relativeError(ours.grads[name]!, theirs.grads[plainNames[i]!]!)).toBeLessThanOrEqual(1e-5);
    }
    expect(relativeError(ours.value, theirs.value)).toBeLessThanOrEqual(1e-6);
  });

  it("the gradient with respect to the input is still computed when asked for", () => {
    const [patched, plain] = pair();
    const x = images();
    const ours = tf.grad((t: tf.Tensor) => loss(patched, t))(x);
    const theirs = tf.grad((t: tf.Tensor) => loss(plain, t))(x);
    expect(tf.max(tf.abs(theirs)).dataSync()[0]).toBeGreaterThan(0);
    expect(relativeError(ours, theirs)).toBeLessThanOrEqual(1e-5);
  });

  it("inference still runs the fused op: outputs are bit-identical", () => {
    const [patched, plain] = pair();
    const x = images();
    const a = (patched.predict(x) as tf.Tensor).dataSync();
    const b = (plain.predict(x) as tf.Tensor).dataSync();
    expect(Array.from(a)).toEqual(Array.from(b));
  });

  it("a training step computes dx for the second convolution only", async () => {
    const [patched, plain] = pair();
    const x = images();
    const inputGradients = async (model: tfl.LayersModel) => {
      const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
      const info = await tf.profile(() => tf.variableGrads(() => loss(model, x), vars).value);
      return info.kernels.filter((k) => k.name === "Conv2DBackpropInput").length;
    };
    expect({ patched: await inputGradients(patched), plain: await inputGradients(plain) }).toEqual({
      patched: 1,
      plain: 2,
    });
  });
});

/**
 * Input → conv (relu) → conv (relu, stride 2) → conv (linear) → ReLU layer → conv (linear) → dense, all
 * trainable: a ReLU as the activation, and as its own layer (AlexNet, VGG, NiN).
 */
function reluNet(): tfl.LayersModel {
  const input = tfl.input({ shape: [9, 8, 2] });
  const first = tfl.layers
    .conv2d({ name: "first", filters: 4, kernelSize: 3, activation: "relu", padding: "same" })
    .apply(input);
  const second = tfl.layers
    .conv2d({ name: "second", filters: 5, kernelSize: 3, strides: 2, activation: "relu" })
    .apply(first);
  const third = tfl.layers.conv2d({ name: "third", filters: 6, kernelSize: 1 }).apply(second);
  const thirdRelu = tfl.layers.reLU({ name: "third_relu" }).apply(third);
  const fourth = tfl.layers.conv2d({ name: "fourth", filters: 3, kernelSize: 1 }).apply(thirdRelu);
  const logits = tfl.layers.dense({ units: 5 }).apply(tfl.layers.flatten().apply(fourth));
  return tfl.model({ inputs: input, outputs: logits as tfl.SymbolicTensor });
}

describe.each(["wasm", "cpu"])("fuseConvolutionRelu on %s", (backend) => {
  beforeAll(async () => {
    await tf.setBackend(backend);
  });

  const reluPair = (): [tfl.LayersModel, tfl.LayersModel, string[]] => {
    const patched = reluNet();
    const plain = reluNet();
    plain.setWeights(patched.getWeights());
    return [patched, plain, fuseConvolutionRelu(patched, planOf(patched))];
  };
  const reluImages = () => tf.randomUniform([6, 9, 8, 2], -1, 1, "float32", 5);

  it("changes the convolutions followed by a ReLU, once, and skipInputGradient leaves them", () => {
    const [patched, , changed] = reluPair();
    expect(changed).toEqual(["first", "second", "third"]);
    expect(fuseConvolutionRelu(patched, planOf(patched))).toEqual([]);
    expect(skipInputGradient(patched, planOf(patched))).toEqual([]);
  });

  it("gives the unchanged model's loss and weight gradients", () => {
    const [patched, plain] = reluPair();
    const x = reluImages();
    const ours = lossGradients(() => loss(patched, x), variables(patched));
    const theirs = lossGradients(() => loss(plain, x), variables(plain));
    expect(ours.grads).toHaveLength(10);
    ours.grads.forEach((g, i) => {
      expect(tf.tidy(() => tf.max(tf.abs(g!)).dataSync()[0])).toBeGreaterThan(0);
      expect(relativeError(g!, theirs.grads[i]!)).toBeLessThanOrEqual(1e-5);
    });
    expect(relativeError(ours.value, theirs.value)).toBeLessThanOrEqual(1e-6);
  });

  it("runs each as one FusedConv2D and keeps one activation per layer for the backward pass, not two", async () => {
    const [patched, plain] = reluPair();
    const x = reluImages();
    const ours = await backwardPass(patched, x);
    const theirs = await backwardPass(plain, x);
    // Linear convolutions are FusedConv2D on both sides: tfjs fuses a linear one itself.
    expect(ours.kernels.filter((k) => k === "FusedConv2D")).toHaveLength(4);
    expect(theirs.kernels.filter((k) => k === "FusedConv2D")).toHaveLength(2);
    expect(ours.kernels).not.toContain("Relu");
    expect(theirs.kernels).toContain("Relu");
    expect(ours.kept).toBeLessThanOrEqual(theirs.kept - 3);
  });

  it("masks dy once per convolution under lossGradients, once per input gradient under tfjs's own gradients", async () => {
    const [patched] = reluPair();
    const x = reluImages();
    const mask = backend === "wasm" ? "ReluGrad" : "Step";
    const ours = await backwardPass(patched, x);
    expect(ours.kernels.filter((k) => k === mask)).toHaveLength(3);
    let viaTfjs: tf.Tensor[] = [];
    const info = await tf.profile(() => {
      const { value, grads } = tf.variableGrads(() => loss(patched, x), variables(patched));
      value.dispose();
      viaTfjs = variables(patched).map((v) => tf.keep(grads[v.name]!));
    });
    // first: dW and db (its input is the images); second and third: dx, dW and db.
    expect(info.kernels.filter((k) => k.name === mask)).toHaveLength(8);
    const { value, grads } = lossGradients(() => loss(patched, x), variables(patched));
    grads.forEach((g, i) => {
      expect(Array.from(g!.dataSync())).toEqual(Array.from(viaTfjs[i]!.dataSync()));
    });
    tf.dispose([value, ...grads.filter((g) => g !== null), ...viaTfjs]);
  });

  it("inference still runs the layers' own path: outputs are bit-identical", () => {
    const [patched, plain] = reluPair();
    const x = reluImages();
    expect(Array.from((patched.predict(x) as tf.Tensor).dataSync())).toEqual(
      Array.from((plain.predict(x) as tf.Tensor).dataSync()),
    );
  });
});

/**
 * Input → conv (linear) ┬→ Add → ReLU layer → conv (relu) → Dense (linear) → ReLU layer → Dense, all
 *                       └→ conv (linear) ┘
 * trainable: ReLU layers after an Add and after a Dense (ResNet, DenseNet after their BatchNorms, AlexNet's
 * classifier), and one fuseConvolutionRelu takes (the conv's own activation).
 */
function addReluNet(): tfl.LayersModel {
  const input = tfl.input({ shape: [9, 8, 2] });
  const a = tfl.layers.conv2d({ name: "a", filters: 4, kernelSize: 3, padding: "same" }).apply(input);
  const b = tfl.layers.conv2d({ name: "b", filters: 4, kernelSize: 1 }).apply(input);
  const sum = tfl.layers.add({ name: "sum" }).apply([a, b] as tfl.SymbolicTensor[]);
  const sumRelu = tfl.layers.reLU({ name: "sum_relu" }).apply(sum);
  const c = tfl.layers.conv2d({ name: "c", filters: 3, kernelSize: 3, strides: 2, activation: "relu" }).apply(sumRelu);
  const hidden = tfl.layers.dense({ name: "hidden", units: 7 }).apply(tfl.layers.flatten().apply(c));
  const hiddenRelu = tfl.layers.reLU({ name: "hidden_relu" }).apply(hidden);
  const logits = tfl.layers.dense({ units: 5 }).apply(hiddenRelu);
  return tfl.model({ inputs: input, outputs: logits as tfl.SymbolicTensor });
}

describe.each(["wasm", "cpu"])("reluGradientFromOutput on %s", (backend) => {
  beforeAll(async () => {
    await tf.setBackend(backend);
  });

  /** The patched model (fuseConvolutionRelu, then reluGradientFromOutput), an unchanged copy, and what each changed. */
  const addReluPair = (): [tfl.LayersModel, tfl.LayersModel, string[], string[]] => {
    const patched = addReluNet();
    const plain = addReluNet();
    plain.setWeights(patched.getWeights());
    const fused = fuseConvolutionRelu(patched, planOf(patched));
    return [patched, plain, fused, reluGradientFromOutput(patched, planOf(patched))];
  };
  /** reluGradientFromOutput alone (no fuseConvolutionRelu), an unchanged copy, and what it changed. */
  const reluOnlyPair = (): [tfl.LayersModel, tfl.LayersModel, string[]] => {
    const reluOnly = addReluNet();
    const plain = addReluNet();
    plain.setWeights(reluOnly.getWeights());
    return [reluOnly, plain, reluGradientFromOutput(reluOnly, planOf(reluOnly))];
  };
  const addReluImages = () => tf.randomUniform([6, 9, 8, 2], -1, 1, "float32", 7);

  it("changes the ReLU layers fuseConvolutionRelu left, once", () => {
    const [patched, , fused, changed] = addReluPair();
    expect(fused).toEqual(["c"]);
    expect(changed).toEqual(["sum_relu", "hidden_relu"]);
    expect(reluGradientFromOutput(patched, planOf(patched))).toEqual([]);
    // A ReLU layer that fuseConvolutionRelu took is left to it.
    const conv = reluNet();
    expect(fuseConvolutionRelu(conv, planOf(conv))).toContain("third");
    expect(reluGradientFromOutput(conv, planOf(conv))).toEqual([]);
  });

  it("gives the unchanged model's loss and weight gradients, bit for bit", () => {
    // Without fuseConvolutionRelu on either side, so that only the ReLU layers' gradients differ.
    const [reluOnly, plain, changed] = reluOnlyPair();
    expect(changed).toEqual(["sum_relu", "hidden_relu"]);
    const x = addReluImages();
    const ours = lossGradients(() => loss(reluOnly, x), variables(reluOnly));
    const theirs = lossGradients(() => loss(plain, x), variables(plain));
    expect(ours.grads).toHaveLength(10);
    ours.grads.forEach((g, i) => {
      expect(tf.tidy(() => tf.max(tf.abs(g!)).dataSync()[0])).toBeGreaterThan(0);
      expect(Array.from(g!.dataSync())).toEqual(Array.from(theirs.grads[i]!.dataSync()));
    });
    expect(ours.value.dataSync()[0]).toBe(theirs.value.dataSync()[0]);
    // With fuseConvolutionRelu too (what TrainStep runs): as close as that one alone is.
    const [patched] = addReluPair();
    patched.setWeights(plain.getWeights());
    const both = lossGradients(() => loss(patched, x), variables(patched));
    both.grads.forEach((g, i) => {
      expect(relativeError(g!, theirs.grads[i]!)).toBeLessThanOrEqual(1e-5);
    });
  });

  it("keeps the ReLU layers' inputs out of the backward pass and runs no Cast", async () => {
    const [reluOnly, plain] = reluOnlyPair();
    const x = addReluImages();
    const ours = await backwardPass(reluOnly, x);
    const theirs = await backwardPass(plain, x);
    // Each ReLU layer keeps its output (which the next layer keeps too) instead of its input. The Add's
    // output is then freed; the Dense's is not: tfjs's _FusedMatMul gradient keeps its own output.
    expect(ours.kept).toBe(theirs.kept - 1);
    expect(ours.kernels.filter((k) => k === "Relu")).toHaveLength(3); // c's own activation is tfjs's Relu
    expect(ours.kernels.filter((k) => k === "Cast")).toHaveLength(
      theirs.kernels.filter((k) => k === "Cast").length - 2,
    );
  });

  it("differentiates them with one ReluGrad kernel each where the backend has it (wasm), else Step and Multiply", async () => {
    const [reluOnly] = reluOnlyPair();
    const { kernels } = await backwardPass(reluOnly, addReluImages());
    const count = (name: string) => kernels.filter((k) => k === name).length;
    // c's own activation is tfjs's Relu, differentiated by tfjs (one Step) on both backends.
    expect([count("ReluGrad"), count("Step")]).toEqual(backend === "wasm" ? [2, 1] : [0, 3]);
  });

  it("inference still runs the layers' own path: outputs are bit-identical", () => {
    const [patched, plain] = addReluPair();
    const x = addReluImages();
    expect(Array.from((patched.predict(x) as tf.Tensor).dataSync())).toEqual(
      Array.from((plain.predict(x) as tf.Tensor).dataSync()),
    );
  });
});

describe("TrainStep leaves the caller's model alone", () => {
  beforeAll(async () => {
    await tf.setBackend("wasm");
  });

  it("the layers are the same objects with the same call after a step and after dispose(), and still train fused", async () => {
    const model = reluNet();
    const layers = [...model.layers];
    const calls = layers.map((layer) => (layer as unknown as { call: unknown }).call);
    const own = layers.map((layer) => Object.hasOwn(layer, "call"));
    const unchanged = () => {
      expect(model.layers).toEqual(layers);
      model.layers.forEach((layer, i) => {
        expect(layer).toBe(layers[i]);
        expect((layer as unknown as { call: unknown }).call).toBe(calls[i]);
        expect(Object.hasOwn(layer, "call")).toBe(own[i]);
      });
    };
    const step = new TrainStep(model, 0.1);
    unchanged();
    const x = tf.randomUniform([6, 9, 8, 2], -1, 1, "float32", 7) as tf.Tensor4D;
    const labels = tf.tensor1d([0, 1, 2, 3, 4, 0], "int32");
    // The step's forward pass runs its own calls: each convolution and its ReLU as one FusedConv2D, no Relu kernel.
    const info = await tf.profile(() => {
      const { loss, correct } = step.run(x, labels);
      tf.dispose([loss, correct]);
    });
    expect(info.kernels.map((k) => k.name)).not.toContain("Relu");
    unchanged();
    step.dispose();
    unchanged();
    // A plain training-mode call afterwards is tfjs's own: its Relu is there.
    const plain = await tf.profile(() => tf.dispose(model.apply(x, { training: true }) as tf.Tensor));
    expect(plain.kernels.map((k) => k.name)).toContain("Relu");
    tf.dispose([x, labels]);
  });

  it("a forward pass that throws still gives every layer its own call back", () => {
    const model = reluNet();
    const calls = TrainingCalls.forTraining(model);
    expect(calls.layerNames.length).toBeGreaterThan(0);
    const before = model.layers.map((layer) => (layer as unknown as { call: unknown }).call);
    expect(() =>
      calls.during(() => {
        throw new Error("boom");
      }),
    ).toThrow("boom");
    expect(model.layers.map((layer) => (layer as unknown as { call: unknown }).call)).toEqual(before);
    expect(model.layers.some((layer) => Object.hasOwn(layer, "call"))).toBe(false);
  });
});
