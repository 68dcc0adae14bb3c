/**
 * The checks every network package runs, written once and driven by one row per network: a
 * {@link NetworkCase} says what the book says of the network (parameter counts, shape tables, the recipe,
 * the smallest input) and how to train it for a few steps; {@link architectureChecks},
 * {@link trainingChecks} and {@link gradientChecks} turn the row into tests. A new network gets the checks
 * by writing its row (timm and Keras applications test every registered model the same way).
 *
 * Core depends on no test runner: the test file passes its runner's `describe`, `it`, `expect`,
 * `beforeAll` and `afterAll` in ({@link TestApi}, the subset of vitest's and Jest's API used here).
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BuildOptions, ModelSpec, Recipe } from "@convnets/model";
import { initXavierUniform, LAYER_NAME, summary } from "@convnets/model";
import * as tf from "@tensorflow/tfjs-core";
import { type LayersModel, models } from "@tensorflow/tfjs-layers";
import { type FashionMnist, loadFashionMnist, takeImages } from "../data/fashion-mnist.js";
import { type EnginePreference, setupEngine } from "../engine.js";
import {
  type BookWalkOptions,
  bookWalk,
  compareGradients,
  firstImages,
  lossBeforeAfterSgd,
  maxAbsDifference,
  outputShape,
  paramCount,
  saveAndReload,
} from "../testing.js";
import { train } from "../train.js";

/** What the checks ask of an assertion (vitest's and Jest's `expect(…)` have all of it). */
export interface Assertion {
  not: Assertion;
  toBe(expected: unknown): void;
  toEqual(expected: unknown): void;
  toBeGreaterThan(expected: number): void;
  toBeLessThan(expected: number): void;
  toHaveLength(expected: number): void;
  toContain(expected: unknown): void;
  toMatch(expected: RegExp | string): void;
  toThrow(expected?: RegExp | string): void;
}

/**
 * The test runner's functions the checks call: pass `{ describe, it, expect, beforeAll, afterAll }` imported
 * from vitest. Typed structurally, so that `@convnets/core` imports no runner.
 */
export interface TestApi {
  describe(name: string, body: () => void): unknown;
  it(name: string, body: () => unknown): unknown;
  expect(actual: unknown, message?: string): Assertion;
  beforeAll(body: () => unknown): unknown;
  afterAll(body: () => unknown): unknown;
}

/** The rows the book's PyTorch walk prints, and which of the model's layers print them. */
export interface BookWalk {
  lines?: BookWalkOptions;
  rows: [string, number[]][];
}

/** A shape table: the model built with `options`, and the output shapes the book's printed tables lists for it. */
export interface ShapeWalk<O extends BuildOptions = BuildOptions> {
  /** What the table is, as the test's name ends: "the book's printed walk at 224×224". */
  title: string;
  /** Builder options; none builds the network at its defaults. */
  options?: O;
  /** `[layer name, output shape]`, channels-last and without the batch dimension, as tfjs infers them. */
  layers?: [string, number[]][];
  /** `layers` lists every layer (but the input) in order, not a selection. */
  complete?: boolean;
  /** The walk as the book prints it (`for layer in net: …`), compared with {@link bookWalk}'s rows. */
  book?: BookWalk;
  /** @deprecated Use `book`; still checked where `book` is absent. */
  seed?: BookWalk;
  /** Trainable parameters of this build (PyTorch's count), where the book gives one. */
  trainableParams?: number;
}

/** How the training check shows that the network learns: the loss must fall by more than `fallsBy`. */
export type LossFall =
  /**
   * `steps` SGD steps (the training loop's TrainStep) on one batch of the first `images` training images,
   * from Xavier-uniform weights seeded with 1; both losses in inference mode ({@link lossBeforeAfterSgd}).
   */
  | { kind: "sgd-steps"; images: number; steps: number; lr: number; fallsBy: number }
  /**
   * `train()` as `convnets train` runs it, on the first `images` training images and `testImages` test images:
   * the last epoch's mean loss against the first's. It must also leave no tensor behind.
   */
  | {
      kind: "epochs";
      images: number;
      testImages: number;
      epochs: number;
      batchSize: number;
      lr: number;
      seed: number;
      fallsBy: number;
    };

/** One network, as its checks see it. Every field is a fact someone can look up (the book) or a choice of the test. */
export interface NetworkCase<O extends BuildOptions = BuildOptions> {
  /** The variant's spec, as the trainer finds it. */
  spec: ModelSpec<O>;
  /** The package's builder of the variant; called without options it builds the book's network. */
  build: (options?: O) => LayersModel;
  /** What the book (and the paper) say of it. */
  reference: {
    title: string;
    d2lSection: string;
    /** The book's recipe (the `train_ch6` call of the network's section), the spec's `defaults`. */
    recipe: Recipe;
    /** Trainable parameters of `build()`: PyTorch's count for the book's network. */
    trainableParams: number;
    /** Parameters that are state, not trained: the BatchNorms' moving means and variances. */
    nonTrainableParams: number;
    /** Trainable parameters of `spec.build()`, where the spec builds another width (the book's VGG-11 ÷ 4). */
    specTrainableParams?: number;
    /** Smallest square input side the architecture accepts. */
    minInputSize: number;
  };
  /** Shape tables; the first is the network at its defaults. */
  walks: ShapeWalk<O>[];
  /** Every layer's name, in order (the names weights and summaries show); omitted where too long to list. */
  layerNames?: string[];
  /** Dropout rates of the Dropout layers, in order. */
  dropout: number[];
  /** The book's BatchNorm (ConvnetsBatchNorm) layers: how many, and those whose moving statistics are watched. */
  batchNorms: { count: number; watched: string[] };
  /** Options added to every build below the default size, to keep the checks fast (a narrower VGG). */
  small?: O;
  /**
   * The last feature map before the classifier, with `small`: 1×1 with `channels` channels at the minimum input,
   * and `side`×`side` at each `[inputSize, side]` of `sizes`.
   */
  featureMap: { layer: string; channels: number; sizes?: [number, number][] };
  /** Height and width of a non-square (or other) three-channel input the network is built at. */
  colourInput: [number, number];
  /** Where the training checks train: the input size and how the loss must fall. */
  training: { inputSize: number; lossFall: LossFall };
  /** Engine of the training checks. Default "wasm" (with core's training kernels); "auto" asserts only that it is not the cpu backend. */
  engine?: EnginePreference;
  /** The gradient check on wasm against the cpu backend: input size and how many weights must be compared. */
  gradients?: { inputSize: number; compared: number };
}

/** Test images predicted before and after a save, to compare. */
const ROUND_TRIP_IMAGES = 64;

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const square = (size: number): [number, number, number] => [size, size, 1];
const withInput = <O extends BuildOptions>(c: NetworkCase<O>, inputShape: [number, number, number], more?: O): O =>
  ({ ...c.small, ...more, inputShape }) as O;

/** [moving mean, moving variance] of a ConvnetsBatchNorm layer, copied out. */
function movingStatistics(model: LayersModel, layer: string): Float32Array[] {
  const weights = model.getLayer(layer).getWeights();
  if (weights.length !== 4)
    throw new Error(`${layer}: expected gamma, beta, moving mean and moving variance, got ${weights.length} weights`);
  return weights.slice(2).map((w) => w.dataSync() as Float32Array);
}

/** The largest |bias| over every conv and dense bias of the model. */
function largestBias(model: LayersModel): { biases: number; largest: number } {
  let biases = 0;
  let largest = 0;
  for (const layer of model.layers) {
    for (const w of layer.weights) {
      if (!/\/bias$/.test(w.originalName)) continue;
      biases++;
      largest = Math.max(
        largest,
        tf.tidy(() => tf.max(tf.abs(w.read())).dataSync()[0]!),
      );
    }
  }
  return { biases, largest };
}

/**
 * Structure, on the cpu backend (no arithmetic worth a fast engine): parameter counts and shape tables against
 * the book's printed tables, layer names, dropout and zero biases, a JSON topology round trip, the smallest input accepted
 * and one pixel less refused with a message naming it, other channel and class counts, and the spec's recipe.
 */
export function architectureChecks<O extends BuildOptions>(t: TestApi, c: NetworkCase<O>): void {
  const { describe, it, expect, beforeAll, afterAll } = t;
  const { spec, reference: ref } = c;
  const name = spec.name;
  const size = ref.recipe.inputSize;
  const m = ref.minInputSize;
  const { layer: featureLayer, channels: featureChannels } = c.featureMap;
  let full: LayersModel;

  describe(`${name}: architecture`, () => {
    beforeAll(async () => {
      await setupEngine("cpu");
      full = c.build();
    });

    afterAll(() => full?.dispose());

    describe("parameters and shapes (the book's printed tables)", () => {
      const count = (n: number) => n.toLocaleString("en-US");
      it(`has ${count(ref.trainableParams)} trainable parameters and ${count(ref.nonTrainableParams)} moving statistics`, () => {
        expect(paramCount(full.trainableWeights)).toBe(ref.trainableParams);
        expect(paramCount(full.nonTrainableWeights)).toBe(ref.nonTrainableParams);
        expect(full.countParams()).toBe(ref.trainableParams + ref.nonTrainableParams);
        const s = summary(full);
        expect([s.trainableParams, s.nonTrainableParams]).toEqual([ref.trainableParams, ref.nonTrainableParams]);
      });

      it(`uses the book's BatchNorm ${c.batchNorms.count} times and tfjs's never`, () => {
        const types = full.layers.map((l) => l.getClassName());
        expect(types.filter((type) => type === "ConvnetsBatchNorm")).toHaveLength(c.batchNorms.count);
        expect(types).not.toContain("BatchNormalization");
        for (const layer of c.batchNorms.watched)
          expect(full.getLayer(layer).getClassName(), layer).toBe("ConvnetsBatchNorm");
      });

      for (const walk of c.walks) {
        it(`walks ${walk.title}`, () => {
          const model = walk.options === undefined ? full : c.build(walk.options);
          try {
            const inputShape = walk.options?.inputShape ?? square(size);
            expect(model.inputs[0]!.shape).toEqual([null, ...inputShape]);
            if (walk.layers && walk.complete) {
              expect(summary(model).layers.map((l) => [l.name, l.outputShape])).toEqual(walk.layers);
            } else if (walk.layers) {
              const shapes = walk.layers.map(([layer]) => outputShape(model, layer));
              expect(shapes).toEqual(walk.layers.map(([, s]) => [null, ...s]));
            }
            const printed = walk.book ?? walk.seed;
            if (printed) expect(bookWalk(model, printed.lines)).toEqual(printed.rows);
            if (walk.trainableParams !== undefined)
              expect(paramCount(model.trainableWeights)).toBe(walk.trainableParams);
            expect(model.outputs[0]!.shape).toEqual([null, walk.options?.numClasses ?? 10]);
          } finally {
            if (model !== full) model.dispose();
          }
        });
      }

      if (c.layerNames) {
        const names = c.layerNames;
        it("names its layers by role", () => {
          expect(summary(full).layers.map((l) => l.name)).toEqual(names);
        });
      }

      it("follows @convnets/model's naming rules: `input` in, `logits` out, every layer by place and role", () => {
        expect(full.inputLayers.map((l) => l.name)).toEqual(["input"]);
        expect(full.outputLayers.map((l) => l.name)).toEqual(["logits"]);
        for (const layer of full.layers) expect(layer.name).toMatch(LAYER_NAME);
      });

      it(`starts every bias at zero; dropout rates ${JSON.stringify(c.dropout)}`, () => {
        const rates = full.layers.filter((l) => l.getClassName() === "Dropout").map((l) => l.getConfig()["rate"]);
        expect(rates).toEqual(c.dropout);
        const { biases, largest } = largestBias(full);
        expect(biases).toBeGreaterThan(0);
        expect(largest).toBe(0);
      });

      it("survives a topology round trip through JSON (toJSON → modelFromJSON)", async () => {
        const json = JSON.parse(full.toJSON(null, true) as string);
        const rebuilt = await models.modelFromJSON(json);
        try {
          expect(rebuilt.name).toBe(full.name);
          expect(summary(rebuilt).layers).toEqual(summary(full).layers);
          expect(paramCount(rebuilt.trainableWeights)).toBe(ref.trainableParams);
        } finally {
          rebuilt.dispose();
        }
      });
    });

    describe("input size", () => {
      it(`accepts ${m}×${m}, where ${featureLayer} is 1×1, and predicts from it`, () => {
        const model = c.build(withInput(c, square(m)));
        try {
          expect(outputShape(model, featureLayer)).toEqual([null, 1, 1, featureChannels]);
          expect(model.outputs[0]!.shape).toEqual([null, 10]);
          const logits = tf.tidy(() => Array.from((model.predict(tf.zeros([2, m, m, 1])) as tf.Tensor).dataSync()));
          expect(logits).toHaveLength(20);
          expect(logits.every(Number.isFinite)).toBe(true);
        } finally {
          model.dispose();
        }
      });

      for (const [inputSize, side] of c.featureMap.sizes ?? []) {
        it(`at ${inputSize}×${inputSize} ends its features at ${side}×${side}`, () => {
          const model = c.build(withInput(c, square(inputSize)));
          try {
            expect(outputShape(model, featureLayer)).toEqual([null, side, side, featureChannels]);
          } finally {
            model.dispose();
          }
        });
      }

      if (m > 1) {
        it(`refuses ${m - 1}×${m - 1} and ${size}×${m - 1}, naming the minimum`, () => {
          const tooSmall = (h: number, w: number) =>
            new RegExp(
              `^${escapeRegExp(name)}: input ${h}×${w} is too small; the smallest input this network accepts is ${m}×${m}`,
            );
          expect(() => c.build(withInput(c, square(m - 1)))).toThrow(tooSmall(m - 1, m - 1));
          expect(() => c.build(withInput(c, [size, m - 1, 1]))).toThrow(tooSmall(size, m - 1));
        });
      } else {
        it("refuses 0×0 (below the minimum of 1)", () => {
          expect(() => c.build(withInput(c, [0, 0, 1]))).toThrow(
            new RegExp(`^${escapeRegExp(name)}: inputShape must be`),
          );
        });
      }

      const [h, w] = c.colourInput;
      it(`takes ${h}×${w}×3 inputs and 7 classes, and refuses 0 classes`, () => {
        const model = c.build(withInput(c, [h, w, 3], { numClasses: 7 } as O));
        try {
          expect(model.inputs[0]!.shape).toEqual([null, h, w, 3]);
          // The first convolution's kernel is the default one with 3 input channels instead of 1.
          const kernel = (net: LayersModel) =>
            net.layers.find((l) => l.getClassName() === "Conv2D")!.getWeights()[0]!.shape;
          const [kh, kw, , filters] = kernel(full);
          const [height, width, inChannels, outChannels] = kernel(model);
          expect([height, width, inChannels]).toEqual([kh, kw, 3]);
          // `small` may narrow the network (VGG's width): then the filter count differs from the default's.
          if (c.small === undefined) expect(outChannels).toBe(filters);
          expect(model.outputs[0]!.shape).toEqual([null, 7]);
          const logits = tf.tidy(() => (model.predict(tf.zeros([2, h, w, 3])) as tf.Tensor).shape);
          expect(logits).toEqual([2, 7]);
        } finally {
          model.dispose();
        }
        expect(() => c.build(withInput(c, square(size), { numClasses: 0 } as O))).toThrow(
          new RegExp(`^${escapeRegExp(name)}: numClasses must be a positive integer`),
        );
      });
    });

    describe("spec", () => {
      it("carries the book's recipe", () => {
        expect(spec.title).toBe(ref.title);
        expect(spec.paper).toMatch(/\b(19|20)\d\d\b/);
        expect(spec.d2lSection).toBe(ref.d2lSection);
        expect(spec.defaults).toEqual(ref.recipe);
        expect(spec.minInputSize).toBe(ref.minInputSize);
      });

      it(`builds the recipe's network (${size}×${size} in, 10 logits out) and at the size it is given`, () => {
        const model = spec.build();
        try {
          expect(model.name).toBe(name);
          expect(model.inputs[0]!.shape).toEqual([null, size, size, 1]);
          expect(model.outputs[0]!.shape).toEqual([null, 10]);
          expect(paramCount(model.trainableWeights)).toBe(ref.specTrainableParams ?? ref.trainableParams);
        } finally {
          model.dispose();
        }
        const smallest = spec.build(withInput(c, square(m)));
        try {
          expect(smallest.name).toBe(name);
          expect(outputShape(smallest, featureLayer)).toEqual([null, 1, 1, featureChannels]);
        } finally {
          smallest.dispose();
        }
      });
    });
  });
}

/**
 * Real Fashion-MNIST images on the training engine: finite, distinct logits at the recipe's input size; the
 * loss falls in a few steps at `training.inputSize` (and the BatchNorms' moving statistics move); the trained
 * model saved and loaded back predicts the same numbers and keeps its moving statistics.
 */
export function trainingChecks<O extends BuildOptions>(t: TestApi, c: NetworkCase<O>): void {
  const { describe, it, expect, beforeAll, afterAll } = t;
  const { spec } = c;
  const name = spec.name;
  const wanted = c.engine ?? "wasm";
  const size = c.reference.recipe.inputSize;
  const small = c.training.inputSize;
  const fall = c.training.lossFall;

  describe(`${name}: training on real Fashion-MNIST images (${wanted} engine)`, () => {
    let backend: string;
    let mnist: FashionMnist;
    let scratch: string;
    let trained: LayersModel | undefined;

    beforeAll(async () => {
      backend = (await setupEngine(wanted)).backend;
      mnist = await loadFashionMnist();
      scratch = await mkdtemp(join(tmpdir(), `convnets-${name}-`));
    });

    afterAll(async () => {
      trained?.dispose();
      if (scratch) await rm(scratch, { recursive: true, force: true });
    });

    it(wanted === "auto" ? "runs on a fast engine, not the cpu backend" : `runs on ${wanted}`, () => {
      if (wanted === "auto") expect(backend).not.toBe("cpu");
      else expect(backend).toBe(wanted);
    });

    it(`gives 10 finite, different logits for 2 test images at ${size}×${size}`, () => {
      const model = c.build();
      const batch = firstImages(mnist.test, 2, size);
      try {
        const values = tf.tidy(() => (model.predict(batch.xs) as tf.Tensor).dataSync() as Float32Array);
        expect(values).toHaveLength(20);
        expect(values.every(Number.isFinite)).toBe(true);
        // Two different images (an ankle boot and a pullover) must not give the same logits.
        expect(maxAbsDifference(values.slice(0, 10), values.slice(10))).toBeGreaterThan(1e-6);
      } finally {
        tf.dispose([batch.xs, batch.labels]);
        model.dispose();
      }
    });

    const how =
      fall.kind === "sgd-steps"
        ? `${fall.steps} SGD steps on ${fall.images} images`
        : `${fall.epochs} epochs of ${fall.images} images in batches of ${fall.batchSize}`;
    const watched = c.batchNorms.watched;
    it(`lowers the loss by more than ${fall.fallsBy} in ${how} at ${small}×${small}, lr ${fall.lr}${watched.length ? ", moving the BatchNorms' statistics" : ""}`, async () => {
      const model = c.build(withInput(c, square(small)));
      trained = model;
      const before = watched.map((l) => movingStatistics(model, l));
      if (fall.kind === "sgd-steps") {
        const batch = firstImages(mnist.train, fall.images, small);
        initXavierUniform(model, 1);
        try {
          const { before: first, after } = lossBeforeAfterSgd(model, batch, { lr: fall.lr, steps: fall.steps });
          expect(first).toBeGreaterThan(2); // ≈ ln 10 for an untrained 10-way classifier
          expect(after).toBeLessThan(first - fall.fallsBy);
        } finally {
          tf.dispose([batch.xs, batch.labels]);
        }
      } else {
        const data = { train: takeImages(mnist.train, fall.images), test: takeImages(mnist.test, fall.testImages) };
        const tensors = tf.memory().numTensors;
        const options = {
          epochs: fall.epochs,
          lr: fall.lr,
          batchSize: fall.batchSize,
          inputSize: small,
          seed: fall.seed,
        };
        const { history } = await train(model, data, options);
        const losses = history.map((e) => e.loss);
        expect(losses).toHaveLength(fall.epochs);
        expect(losses.every(Number.isFinite)).toBe(true);
        expect(losses.at(-1)!).toBeLessThan(losses[0]! - fall.fallsBy);
        // train() re-initialised the weights in place and left no tensor behind.
        expect(tf.memory().numTensors).toBe(tensors);
      }
      watched.forEach((layer, i) => {
        const [meanBefore, varianceBefore] = before[i]!;
        const [meanAfter, varianceAfter] = movingStatistics(model, layer);
        // Fresh statistics are mean 0, variance 1; the training steps must have moved both.
        expect(
          meanBefore!.every((v) => v === 0),
          layer,
        ).toBe(true);
        expect(
          varianceBefore!.every((v) => v === 1),
          layer,
        ).toBe(true);
        expect(maxAbsDifference(meanBefore!, meanAfter!), layer).toBeGreaterThan(1e-3);
        expect(maxAbsDifference(varianceBefore!, varianceAfter!), layer).toBeGreaterThan(1e-3);
      });
    });

    it(`saves as model.json + weights and loads back predicting the same logits for ${ROUND_TRIP_IMAGES} images`, async () => {
      // The model the previous test trained (its moving statistics moved), or a fresh one when run alone.
      const model = trained ?? c.build(withInput(c, square(small)));
      trained = undefined;
      const dir = join(scratch, "model");
      const batch = firstImages(mnist.test, ROUND_TRIP_IMAGES, small);
      try {
        const { loaded, expected, actual } = await saveAndReload(model, batch.xs, dir);
        try {
          expect(loaded).not.toBe(model);
          expect(loaded.name).toBe(name);
          expect(loaded.layers.map((l) => l.name)).toEqual(model.layers.map((l) => l.name));
          expect(loaded.countParams()).toBe(model.countParams());
          expect(actual).toHaveLength(ROUND_TRIP_IMAGES * 10);
          expect(Array.from(actual)).toEqual(Array.from(expected));
          if (watched.length) {
            const topology = JSON.parse(await readFile(join(dir, "model.json"), "utf8")).modelTopology;
            expect(JSON.stringify(topology)).toContain('"class_name":"ConvnetsBatchNorm"');
          }
          for (const layer of watched) {
            // The moving statistics are saved with the model, not re-initialised on load.
            expect(movingStatistics(loaded, layer), layer).toEqual(movingStatistics(model, layer));
          }
        } finally {
          loaded.dispose();
        }
      } finally {
        tf.dispose([batch.xs, batch.labels]);
        model.dispose();
      }
    });
  });
}

/**
 * The gradients of the training loss on 4 real images with respect to every trainable weight, on wasm (core's
 * training kernels) and on tfjs's reference cpu backend from the same weights: max-norm relative error < 1e-3
 * for every weight whose gradient is not ~0, and at least `gradients.compared` such weights.
 */
export function gradientChecks<O extends BuildOptions>(t: TestApi, c: NetworkCase<O>): void {
  const { describe, it, expect, beforeAll } = t;
  const g = c.gradients;
  if (!g) throw new Error(`gradientChecks: the ${c.spec.name} row has no gradients entry`);
  const name = c.spec.name;

  describe(`${name}: gradients on wasm`, () => {
    let mnist: FashionMnist;

    beforeAll(async () => {
      mnist = await loadFashionMnist();
    });

    it(`equal the cpu backend's for every weight at ${g.inputSize}×${g.inputSize} (max-norm relative error < 1e-3)`, async () => {
      const build = () => c.build(withInput(c, square(g.inputSize)));
      const options = { inputSize: g.inputSize, seed: 7, backend: "wasm", reference: "cpu" } as const;
      const { weights, referenceWeights, errors } = await compareGradients(build, takeImages(mnist.train, 4), options);
      expect(weights).toBe(referenceWeights);
      // Dead ReLUs leave some weights without gradient, and a conv bias right before a BatchNorm has a true
      // gradient of 0 (the mean cancels it): relative error means nothing there.
      const compared = errors.filter((e) => e.scale >= 1e-4);
      for (const { weight, error } of compared) expect(error, `weight ${weight}`).toBeLessThan(1e-3);
      expect(compared.length).toBeGreaterThan(g.compared);
    });
  });
}
