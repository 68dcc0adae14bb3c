/**
 * Reproduces the book's LeNet / LeNet-BN runs (d2l §7.6 and §8.5, `train_ch6`) on the whole of
 * Fashion-MNIST with the spec's recipe, and prints d2l's final lines. Run by hand, not in CI:
 *
 *     npx tsx scripts/reproduce.ts lenet|lenet-bn [--epochs N] [--seed S] [--backend wasm|cpu|tensorflow|auto] [--save DIR]
 *
 * The backend defaults to wasm (CONVNETS_BACKEND is not consulted: the README's numbers are wasm's).
 */
import { parseArgs } from "node:util";
import { loadFashionMnist, saveModel, setupEngine, train } from "@convnets/core";
import { lenetBNSpec, lenetSpec } from "../src/index.js";

const SPECS = { lenet: lenetSpec, "lenet-bn": lenetBNSpec };
/** The book's median test accuracy over ~330 builds of d2l §7.6 (LeNet) and §8.5 (LeNet-BN). */
const BOOK_MEDIAN_TEST_ACC = { lenet: 0.806, "lenet-bn": 0.882 };

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    epochs: { type: "string" },
    backend: { type: "string", default: "wasm" },
    seed: { type: "string" },
    save: { type: "string" },
  },
});
const name = positionals[0];
if (name !== "lenet" && name !== "lenet-bn") {
  console.error(
    `usage: npx tsx scripts/reproduce.ts lenet|lenet-bn [--epochs N] [--backend wasm]; got ${name ?? "nothing"}`,
  );
  process.exit(2);
}
const spec = SPECS[name];
const epochs = values.epochs ? Number(values.epochs) : spec.defaults.epochs;
const seed = values.seed ? Number(values.seed) : 0;

const engine = await setupEngine(values.backend);
const data = await loadFashionMnist();
const { lr, batchSize, inputSize } = spec.defaults;
console.log(
  `${spec.title} (${name}): ${epochs} epochs, lr ${lr}, batch ${batchSize}, input ${inputSize}×${inputSize}, seed ${seed}, ` +
    `${data.train.count} train / ${data.test.count} test images from ${data.dir}, on ${engine.description}`,
);

const model = spec.build({ inputShape: [inputSize, inputSize, 1] });
const { history } = await train(model, data, {
  epochs,
  lr,
  batchSize,
  inputSize,
  seed,
  onEpoch: (m) =>
    console.log(
      `epoch ${m.epoch}/${epochs}: loss ${m.loss.toFixed(3)}, train acc ${m.trainAcc.toFixed(3)}, ` +
        `test acc ${m.testAcc.toFixed(3)}, ${m.examplesPerSec.toFixed(1)} examples/sec (${m.seconds.toFixed(1)} s)`,
    ),
});

const last = history.at(-1)!;
// d2l prints examples/sec over all epochs' training time together.
const examples = history.length * data.train.count;
const seconds = history.reduce((s, m) => s + m.seconds, 0);
console.log(`loss ${last.loss.toFixed(3)}, train acc ${last.trainAcc.toFixed(3)}, test acc ${last.testAcc.toFixed(3)}`);
console.log(`${(examples / seconds).toFixed(1)} examples/sec on ${engine.description}`);
if (values.save) {
  await saveModel(model, values.save);
  console.log(`model saved to ${values.save}`);
}
const median = BOOK_MEDIAN_TEST_ACC[name];
if (last.testAcc < median - 0.1) {
  console.log(
    `warning: test acc ${last.testAcc.toFixed(3)} is far below the book's median ${median}: something is wrong`,
  );
}
