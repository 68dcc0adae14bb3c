/**
 * Our PyTorch peer (python/peer.py) is the other side of every comparison in the README: it must be the same
 * networks as ours. For all eight: the same trainable parameter count, the same weights by name and shape (in
 * our layout), the same recipe as our specs' defaults; and, loaded with our weights, the same logits as ours,
 * which checks the conversion of the weights between the two layouts (the dense layer after the flatten) and that
 * each weight sits where ours does (two layers with the same shapes, swapped, would pass by name and shape).
 * Needs PyTorch in /usr/bin/python3 (apt-get install python3-torch); without it these tests are skipped, and
 * the skip says so.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { alexnetSpec } from "@convnets/alexnet";
import { type ModelSpec, summary } from "@convnets/core";
import { densenetSpec } from "@convnets/densenet";
import { googlenetSpec } from "@convnets/googlenet";
import { lenetBNSpec, lenetSpec } from "@convnets/lenet";
import { ninSpec } from "@convnets/nin";
import { resnet18Spec } from "@convnets/resnet";
import { vgg11Spec } from "@convnets/vgg";
import "@tensorflow/tfjs-backend-cpu";
import * as tf from "@tensorflow/tfjs-core";
import type { LayersModel } from "@tensorflow/tfjs-layers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PEER } from "../src/options.js";

const PYTHON = "/usr/bin/python3";
const withTorch = spawnSync(PYTHON, ["-c", "import torch"]).status === 0;
const SKIPPED = `skipped: ${PYTHON} cannot import torch (apt-get install python3-torch)`;
if (!withTorch) console.warn(`peer.test.ts: ${SKIPPED}`);

const SPECS: ModelSpec[] = [
  lenetSpec,
  lenetBNSpec,
  alexnetSpec,
  vgg11Spec,
  ninSpec,
  googlenetSpec,
  resnet18Spec,
  densenetSpec,
];
/** Each network at its recipe's input, and the three the book trains at 224 also at 96 (dense layers sized to the input). */
const CASES = [
  ...SPECS.map((spec) => ({ spec, inputSize: spec.defaults.inputSize })),
  ...[alexnetSpec, vgg11Spec, ninSpec].map((spec) => ({ spec, inputSize: 96 })),
];

function peer(...args: string[]): string {
  const res = spawnSync(PYTHON, [PEER, ...args], { encoding: "utf8", maxBuffer: 16 * 2 ** 20 });
  if (res.status !== 0) throw new Error(`peer.py ${args.join(" ")}: ${res.stderr}`);
  return res.stdout;
}

const lines = (...args: string[]) =>
  peer(...args)
    .trim()
    .split("\n");

/** Our weights as name → shape; tfjs adds `_1` to a weight's name when another model in this process has it. */
const unsuffixed = (name: string) => name.replace(/(\/[a-z_]+?)_\d+$/, "$1");
const ourWeights = (model: LayersModel) => Object.fromEntries(model.weights.map((w) => [unsuffixed(w.name), w.shape]));

beforeAll(async () => {
  await tf.setBackend("cpu");
});

describe.skipIf(!withTorch)(`our PyTorch peer${withTorch ? "" : ` (${SKIPPED})`}`, () => {
  it("has our trainable parameter count and our weights, by name and shape, for all eight networks", () => {
    const counts = new Map<string, number>();
    for (const line of lines("params", ...SPECS.map((s) => s.name))) {
      const { network, inputSize, params } = JSON.parse(line) as { network: string; inputSize: number; params: number };
      counts.set(`${network}@${inputSize}`, params);
    }
    for (const line of lines("params", "alexnet", "vgg11", "nin", "--input-size", "96")) {
      const { network, params } = JSON.parse(line) as { network: string; params: number };
      counts.set(`${network}@96`, params);
    }
    const weights = new Map<string, Record<string, number[]>>();
    for (const line of [
      ...lines("weights", ...SPECS.map((s) => s.name)),
      ...lines("weights", "alexnet", "vgg11", "nin", "--input-size", "96"),
    ]) {
      const {
        network,
        inputSize,
        weights: w,
      } = JSON.parse(line) as { network: string; inputSize: number; weights: Record<string, number[]> };
      weights.set(`${network}@${inputSize}`, w);
    }
    for (const { spec, inputSize } of CASES) {
      const model = spec.build({ inputShape: [inputSize, inputSize, 1] });
      try {
        expect(counts.get(`${spec.name}@${inputSize}`), `${spec.name} at ${inputSize}`).toBe(
          summary(model).trainableParams,
        );
        expect(
          weights.get(`${spec.name}@${inputSize}`),
          `${spec.name} at ${inputSize}: weights by name and shape`,
        ).toEqual(ourWeights(model));
      } finally {
        model.dispose();
      }
    }
    // The book's numbers (d2l), as a guard against both sides drifting together.
    expect(counts.get("lenet@28")).toBe(61_706);
    expect(counts.get("resnet18@96")).toBe(11_178_378);
    expect(counts.get("densenet@96")).toBe(758_226);
  });

  it("trains with the book's recipes, the same numbers as our specs' defaults", () => {
    const recipes = JSON.parse(peer("recipes")) as Record<
      string,
      { input_size: number; lr: number; batch_size: number; epochs: number }
    >;
    expect(Object.keys(recipes).sort()).toEqual(SPECS.map((s) => s.name).sort());
    for (const spec of SPECS) {
      const r = recipes[spec.name]!;
      expect({ inputSize: r.input_size, lr: r.lr, batchSize: r.batch_size, epochs: r.epochs }, spec.name).toEqual(
        spec.defaults,
      );
    }
  });

  describe("from our weights", () => {
    const dir = mkdtempSync(join(tmpdir(), "convnets-peer-"));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    // Each network at an input small enough to be quick, where AlexNet's and VGG's last maps are still 2×2 (so the
    // flatten's order matters) and NiN is at its smallest.
    const LOGIT_CASES: [ModelSpec, number][] = [
      [lenetSpec, 28],
      [lenetBNSpec, 28],
      [alexnetSpec, 128],
      [vgg11Spec, 64],
      [ninSpec, 67],
      [googlenetSpec, 64],
      [resnet18Spec, 64],
      [densenetSpec, 64],
    ];
    for (const [spec, size] of LOGIT_CASES) {
      it(`computes our ${spec.name}'s logits (inference at ${size})`, () => {
        const model = spec.build({ inputShape: [size, size, 1] });
        // BatchNorm's scale, shift and moving statistics away from 1 and 0 and each its own (a seed apiece), so that
        // inference uses each of them where ours does.
        model.weights.forEach((w, i) => {
          if (/\/(gamma|beta|moving_mean|moving_variance)(_\d+)?$/.test(w.name)) {
            w.write(tf.tidy(() => tf.randomUniform(w.read().shape, 0.5, 1.5, "float32", i)));
          }
        });
        const images = tf.randomUniform([2, size, size, 1], 0, 1, "float32", 7);
        const logits = model.predict(images) as tf.Tensor;
        // The weights one after another as float32 (weights.f32), their names and shapes in the JSON.
        const file = join(dir, `${spec.name}.json`);
        const data = join(dir, `${spec.name}.f32`);
        writeFileSync(
          data,
          Buffer.concat(model.weights.map((w) => Buffer.from((w.read().dataSync() as Float32Array).buffer))),
        );
        writeFileSync(
          file,
          JSON.stringify({
            weights: model.weights.map((w) => ({ name: unsuffixed(w.name), shape: w.shape })),
            images: Array.from(images.dataSync()),
            logits: Array.from(logits.dataSync()),
          }),
        );
        tf.dispose([images, logits]);
        model.dispose();
        const script = [
          "import json, sys, numpy as np, torch",
          `sys.path.insert(0, ${JSON.stringify(join(PEER, ".."))})`,
          "import peer",
          `d = json.load(open(${JSON.stringify(file)}))`,
          `flat, weights, at = np.fromfile(${JSON.stringify(data)}, dtype=np.float32), {}, 0`,
          "for w in d['weights']:",
          "    n = int(np.prod(w['shape'])); weights[w['name']] = flat[at:at + n].reshape(w['shape']); at += n",
          "assert at == flat.size, (at, flat.size)",
          `net = peer.build(${JSON.stringify(spec.name)}, ${size})`,
          "peer.load_ours(net, weights)",
          "back = peer.to_ours(net)",
          "assert sorted(back) == sorted(weights), sorted(set(back) ^ set(weights))",
          "assert all(np.array_equal(back[k], weights[k]) for k in weights), 'to_ours(load_ours(w)) is not w'",
          `x = torch.tensor(d['images'], dtype=torch.float32).reshape(2, ${size}, ${size}, 1).permute(0, 3, 1, 2)`,
          "with torch.no_grad(): out = net.eval()(x).numpy().ravel()",
          "ours = np.array(d['logits'], dtype=np.float32)",
          "print(float(np.max(np.abs(out - ours)) / np.max(np.abs(ours))))",
        ].join("\n");
        const res = spawnSync(PYTHON, ["-c", script], { encoding: "utf8" });
        expect(res.status, res.stderr).toBe(0);
        expect(Number(res.stdout.trim())).toBeLessThan(1e-5);
      });
    }
  });
});
