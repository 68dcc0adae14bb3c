import "@tensorflow/tfjs-backend-cpu";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  createModel,
  findModelSpec,
  getModelSpec,
  imageInput,
  listModels,
  type ModelSpec,
  registerModel,
  unregisterModel,
} from "../src/index.js";
import { flatten, logits } from "../src/layers.js";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

/** A tiny spec: flatten and the classifier. */
function tiny(name: string, d2lSection?: string, title = name): ModelSpec {
  return {
    name,
    title,
    paper: "a test",
    d2lSection,
    defaults: { inputSize: 4, lr: 0.1, batchSize: 8, epochs: 1 },
    minInputSize: 1,
    build: (options) => {
      const x = imageInput(options?.inputShape ?? [4, 4, 1]);
      return tfl.model({ name, inputs: x, outputs: logits(flatten(x), options?.numClasses ?? 10) });
    },
  };
}

const registered: string[] = [];
const register = (spec: ModelSpec) => {
  registered.push(spec.name);
  return registerModel(spec);
};
afterEach(() => {
  for (const name of registered.splice(0)) unregisterModel(name);
});

describe("the registry", () => {
  it("lists registered networks in the book's order (by d2l section, numerically), those without a section last", () => {
    register(tiny("t-later", "7.10"));
    register(tiny("t-none"));
    register(tiny("t-first", "6.6"));
    register(tiny("t-middle", "7.2"));
    expect(listModels("t-")).toEqual(["t-first", "t-middle", "t-later", "t-none"]);
    expect(listModels("t-m*")).toEqual(["t-middle"]);
  });

  it("creates a registered network with options, and refuses an unknown name with the closest", () => {
    register(tiny("t-net"));
    const model = createModel("t-net", { numClasses: 3, inputShape: [2, 2, 1] });
    expect(model.outputs[0]!.shape).toEqual([null, 3]);
    expect(model.layers.map((l) => l.name)).toEqual(["input", "flatten", "logits"]);
    model.dispose();
    expect(findModelSpec("t-nett")).toBeUndefined();
    expect(() => getModelSpec("t-nett")).toThrow(
      /^Unknown model "t-nett"\. Did you mean "t-net"\? Registered: .*t-net/,
    );
  });

  it("takes the same spec twice, refuses another network under a taken name, and refuses a bad name", () => {
    const spec = register(tiny("t-dup"));
    expect(registerModel(spec)).toBe(spec);
    expect(() => registerModel(tiny("t-dup", undefined, "Other"))).toThrow(
      'registerModel: the name "t-dup" is taken by t-dup (a test); give Other another name',
    );
    expect(() => registerModel(tiny("Bad Name"))).toThrow(/is not a registry name/);
  });

  it("is shared by every copy of the package (kept on globalThis)", () => {
    register(tiny("t-shared"));
    const shared = (globalThis as Record<symbol, { specs: Map<string, ModelSpec> }>)[
      Symbol.for("@convnets/model registry")
    ];
    expect(shared?.specs.get("t-shared")?.name).toBe("t-shared");
  });
});
