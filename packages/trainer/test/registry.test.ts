import { setupEngine } from "@convnets/core";
import { LAYER_NAME } from "@convnets/model";
import { describe, expect, it } from "vitest";
import { UsageError } from "../src/context.js";
import { findModel, isModelSpec, looksLikePath, registeredModels, specOf } from "../src/registry.js";
import { EXAMPLE_MODEL, FUNCTION_MODEL, PACKAGE_DIR } from "./helpers.js";

describe("finding models", () => {
  it("refuses an unknown name with the known names and the closest one", async () => {
    const error = await findModel("lenett", PACKAGE_DIR).catch((e) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect(error.message).toContain('unknown model "lenett"');
    expect(error.message).toContain('Did you mean "lenet"');
    expect(error.message).toContain(
      "lenet, alexnet, vgg11, vgg13, vgg16, vgg19, nin, googlenet, lenet-bn, resnet18, resnet34, densenet",
    );
    expect(error.message).toContain("convnets train ./my-model.js");
  });

  it("finds every variant an installed package registers, with the export a run records", async () => {
    const found = await findModel("vgg16", PACKAGE_DIR);
    expect(found.spec?.title).toBe("VGG-16 (channels ÷ 4)");
    expect(found.source).toEqual({ kind: "package", specifier: "@convnets/vgg", export: "vgg16Spec" });
  });

  it("finds a ModelSpec exported by the user's own module, by path relative to cwd", async () => {
    const found = await findModel("./examples/my-model.js", PACKAGE_DIR);
    expect(found.name).toBe("small-cnn");
    expect(isModelSpec(found.spec)).toBe(true);
    expect(found.source).toEqual({ kind: "module", path: EXAMPLE_MODEL, export: "smallCnn", builds: "spec" });
    const byExport = await findModel(`${EXAMPLE_MODEL}#smallCnn`, "/");
    expect(byExport.spec).toBe(found.spec);
    const wrongExport = await findModel(`${EXAMPLE_MODEL}#nope`, "/").catch((e) => e);
    expect(wrongExport.message).toContain('has no ModelSpec export named "nope" (ModelSpecs: smallCnn)');
  });

  it("wraps a module exporting a function that returns a tf.LayersModel, reading its input size", async () => {
    await setupEngine();
    const found = await findModel(FUNCTION_MODEL, "/");
    expect(found.spec).toBeUndefined();
    expect(found.name).toBe("tiny-function");
    const spec = specOf(found);
    expect(spec.defaults).toEqual({ inputSize: 28, lr: 0.1, batchSize: 256, epochs: 10 });
    const model = spec.build({ inputShape: [28, 28, 1], numClasses: 10 });
    expect(model.outputs[0]!.shape).toEqual([null, 10]);
    model.dispose();
  });

  it("says what is wrong with a missing module", async () => {
    const error = await findModel("./nowhere/model.js", PACKAGE_DIR).catch((e) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect(error.message).toMatch(/model module \.\/nowhere\/model\.js not found/);
  });

  it("tells paths from names", () => {
    expect(looksLikePath("./my-model.js")).toBe(true);
    expect(looksLikePath("/abs/model.mjs")).toBe(true);
    expect(looksLikePath("models/net.js#small")).toBe(true);
    expect(looksLikePath("lenet")).toBe(false);
    expect(looksLikePath("lenet-bn")).toBe(false);
    expect(looksLikePath("@someone/net")).toBe(false);
  });
});

describe("every registered network (timm's habit: a test over list_models())", () => {
  it("builds at its smallest input, named by @convnets/model's rules, and refuses one pixel less", async () => {
    await setupEngine("cpu");
    const { models } = await registeredModels(PACKAGE_DIR);
    expect(models.length).toBeGreaterThanOrEqual(12);
    for (const { name, spec } of models) {
      const side = spec.minInputSize;
      const model = spec.build({ inputShape: [side, side, 1], numClasses: 3 });
      expect(model.outputs[0]!.shape, name).toEqual([null, 3]);
      expect(
        model.inputLayers.map((l) => l.name),
        name,
      ).toEqual(["input"]);
      expect(
        model.outputLayers.map((l) => l.name),
        name,
      ).toEqual(["logits"]);
      for (const layer of model.layers) expect(layer.name, name).toMatch(LAYER_NAME);
      model.dispose();
      if (side > 1) expect(() => spec.build({ inputShape: [side - 1, side - 1, 1] }), name).toThrow(/too small/);
    }
  });
});
