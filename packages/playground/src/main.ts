import {
  type EpochMetrics,
  evaluate,
  FASHION_MNIST_CLASSES,
  type ModelSpec,
  takeImages,
  train,
} from "@convnets/core/browser";
import * as tf from "@tensorflow/tfjs-core";
import type { LayersModel } from "@tensorflow/tfjs-layers";
import { drawCurves } from "./chart.js";
import { fetchServedData, type PageData, readChosenFiles } from "./data.js";
import { type PageEngine, type StartedEngine, startEngine } from "./engine.js";
import { networkByName, networks, type PageRecipe } from "./networks.js";
import { drawPredictions } from "./predictions.js";
import { loadRunModel } from "./run-files.js";

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const ui = {
  network: $<HTMLSelectElement>("network"),
  paper: $("network-paper"),
  engine: $<HTMLSelectElement>("engine"),
  engineInfo: $("engine-info"),
  dataFiles: $<HTMLInputElement>("data-files"),
  dataSource: $("data-source"),
  train: $<HTMLButtonElement>("train"),
  stop: $<HTMLButtonElement>("stop"),
  continue: $<HTMLButtonElement>("continue"),
  save: $<HTMLButtonElement>("save"),
  progress: $<HTMLProgressElement>("progress"),
  status: $("status"),
  error: $("error"),
  chart: $("chart"),
  table: $<HTMLTableElement>("epochs-table"),
  drop: $("drop"),
  runFiles: $<HTMLInputElement>("run-files"),
  runResult: $("run-result"),
  predictions: $("predictions"),
};
const RECIPE_FIELDS = ["epochs", "lr", "batchSize", "inputSize", "trainCount", "testCount", "seed"] as const;

/** What the page holds between clicks. */
const state: {
  data?: PageData;
  chosenFiles?: File[];
  engine?: StartedEngine;
  model?: LayersModel;
  spec?: ModelSpec;
  recipe?: PageRecipe;
  history: EpochMetrics[];
  controller?: AbortController;
  busy: boolean;
} = { history: [], busy: false };

function showError(err: unknown): void {
  ui.error.textContent = err instanceof Error ? err.message : String(err);
  ui.error.hidden = false;
}
function clearError(): void {
  ui.error.hidden = true;
  ui.error.textContent = "";
}
window.addEventListener("error", (e) => showError(e.error ?? e.message));
window.addEventListener("unhandledrejection", (e) => showError(e.reason));

function setBusy(busy: boolean): void {
  state.busy = busy;
  ui.train.disabled = busy;
  ui.stop.disabled = !busy;
  const resumable =
    !busy && state.model !== undefined && state.recipe !== undefined && state.engine?.name === ui.engine.value;
  ui.continue.disabled = !resumable;
  ui.save.disabled = busy || state.model === undefined;
  ui.runFiles.disabled = busy;
}

function fillRecipe(spec: ModelSpec): void {
  const { defaults } = spec;
  for (const key of ["epochs", "lr", "batchSize", "inputSize"] as const)
    $<HTMLInputElement>(key).value = String(defaults[key]);
  $<HTMLInputElement>("inputSize").min = String(spec.minInputSize);
  ui.paper.textContent = `${spec.title} — ${spec.paper}. Seed recipe: ${defaults.epochs} epochs, lr ${defaults.lr}, batch ${defaults.batchSize}, ${defaults.inputSize}×${defaults.inputSize}.`;
}

/** The recipe in the form, each value checked, with the field named in the error. */
function readRecipe(spec: ModelSpec): PageRecipe {
  const value = (key: (typeof RECIPE_FIELDS)[number]) => Number($<HTMLInputElement>(key).value);
  const whole = (key: (typeof RECIPE_FIELDS)[number], min: number, max = Number.POSITIVE_INFINITY) => {
    const v = value(key);
    if (!Number.isInteger(v) || v < min || v > max) {
      throw new Error(
        `${key}: "${$<HTMLInputElement>(key).value}" must be a whole number from ${min}${Number.isFinite(max) ? ` to ${max}` : ""}`,
      );
    }
    return v;
  };
  const lr = value("lr");
  if (!(lr > 0) || !Number.isFinite(lr))
    throw new Error(`lr: "${$<HTMLInputElement>("lr").value}" must be a positive number`);
  return {
    epochs: whole("epochs", 1),
    lr,
    batchSize: whole("batchSize", 1),
    inputSize: whole("inputSize", spec.minInputSize),
    trainCount: whole("trainCount", 1, 60000),
    testCount: whole("testCount", 1, 10000),
    seed: whole("seed", 0),
  };
}

async function ensureEngine(): Promise<StartedEngine> {
  const wanted = ui.engine.value as PageEngine;
  if (state.engine?.name !== wanted) {
    ui.engineInfo.textContent = `starting ${wanted} …`;
    state.model?.dispose();
    state.model = undefined;
    state.engine = undefined;
    state.engine = await startEngine(wanted);
  }
  ui.engineInfo.textContent = state.engine.description;
  return state.engine;
}

async function ensureData(): Promise<PageData> {
  if (!state.data) {
    ui.status.textContent = "reading Fashion-MNIST …";
    state.data = state.chosenFiles ? await readChosenFiles(state.chosenFiles) : await fetchServedData();
    ui.dataSource.textContent = `${state.data.source}: ${state.data.train.count} training, ${state.data.test.count} test images`;
  }
  return state.data;
}

function addEpochRow(m: EpochMetrics, tensors: number): void {
  ui.table.hidden = false;
  const row = ui.table.tBodies[0]!.insertRow();
  const cells = [
    m.epoch,
    m.loss.toFixed(3),
    m.trainAcc.toFixed(3),
    m.testAcc.toFixed(3),
    m.examplesPerSec.toFixed(0),
    tensors,
  ];
  for (const c of cells) row.insertCell().textContent = String(c);
}

/** Trains from `initialEpoch` (0: a fresh model) to the recipe's epochs with core's loop; Stop ends it after the batch. */
async function runTraining(initialEpoch: number): Promise<void> {
  const spec = state.spec!;
  const recipe = state.recipe!;
  const data = await ensureData();
  const engine = state.engine!;
  const trainSet = takeImages(data.train, recipe.trainCount);
  const testSet = takeImages(data.test, recipe.testCount);
  const controller = new AbortController();
  state.controller = controller;
  setBusy(true);
  let lastPaint = 0;
  const result = await train(
    state.model!,
    { train: trainSet, test: testSet },
    {
      epochs: recipe.epochs,
      lr: recipe.lr,
      batchSize: recipe.batchSize,
      inputSize: recipe.inputSize,
      seed: recipe.seed,
      initialEpoch,
      signal: controller.signal,
      onBatch: (p) => {
        const now = performance.now();
        if (now - lastPaint < 100 && p.batch < p.batches) return;
        lastPaint = now;
        ui.progress.value = (p.epoch - 1 + p.batch / p.batches) / recipe.epochs;
        ui.status.textContent = `epoch ${p.epoch}/${recipe.epochs}, batch ${p.batch}/${p.batches}: loss ${p.meanLoss.toFixed(3)}, train acc ${p.trainAcc.toFixed(3)}, ${p.examplesPerSec.toFixed(0)} examples/sec on ${engine.description}`;
      },
      onEpoch: async (m) => {
        state.history.push(m);
        addEpochRow(m, tf.memory().numTensors);
        ui.progress.value = m.epoch / recipe.epochs;
        await drawCurves(ui.chart, state.history, `${spec.title} on Fashion-MNIST`);
      },
    },
  );
  state.controller = undefined;
  const last = state.history.at(-1);
  const done = last ? `${last.epoch} of ${recipe.epochs} epochs done` : "no epoch done";
  if (result.aborted) {
    ui.status.textContent = `stopped (${done}; the unfinished epoch is discarded). Continue goes on from there.`;
    return;
  }
  const { predictions } = await evaluate(state.model!, takeImages(testSet, 16), { inputSize: recipe.inputSize });
  drawPredictions(ui.predictions, testSet, predictions, FASHION_MNIST_CLASSES);
  ui.status.textContent = last
    ? `loss ${last.loss.toFixed(3)}, train acc ${last.trainAcc.toFixed(3)}, test acc ${last.testAcc.toFixed(3)} — ${last.examplesPerSec.toFixed(1)} examples/sec on ${engine.description}`
    : "nothing to train: the recipe's epochs are done";
}

/** Runs one of the page's actions: one at a time, errors shown on the page, never thrown at the browser. */
async function act(action: () => Promise<void>, status?: string): Promise<void> {
  clearError();
  if (status) ui.status.textContent = status;
  try {
    await action();
  } catch (err) {
    showError(err);
    ui.status.textContent = "stopped by an error (below).";
  } finally {
    setBusy(false);
  }
}

ui.train.addEventListener("click", () =>
  act(async () => {
    const spec = networkByName(ui.network.value);
    const recipe = readRecipe(spec);
    setBusy(true);
    await ensureEngine();
    state.model?.dispose();
    state.model = undefined;
    state.history = [];
    ui.table.tBodies[0]!.replaceChildren();
    ui.chart.replaceChildren();
    ui.progress.value = 0;
    state.spec = spec;
    state.recipe = recipe;
    state.model = spec.build({ inputShape: [recipe.inputSize, recipe.inputSize, 1] });
    await runTraining(0);
  }, "starting …"),
);

ui.stop.addEventListener("click", () => state.controller?.abort());

ui.continue.addEventListener("click", () =>
  act(async () => {
    const epochs = Number($<HTMLInputElement>("epochs").value);
    const done = state.history.at(-1)?.epoch ?? 0;
    if (!Number.isInteger(epochs) || epochs <= done) {
      throw new Error(`epochs: ${done} epochs are done; raise Epochs above ${done} to continue`);
    }
    state.recipe = { ...state.recipe!, epochs };
    await runTraining(done);
  }, "continuing …"),
);

ui.save.addEventListener("click", () =>
  act(async () => {
    await state.model!.save(`downloads://${state.spec?.name ?? "model"}`);
    ui.status.textContent = `saved ${state.spec?.name ?? "model"}.json and ${state.spec?.name ?? "model"}.weights.bin (TensorFlow.js format)`;
  }),
);

ui.network.addEventListener("change", () => fillRecipe(networkByName(ui.network.value)));
ui.engine.addEventListener("change", () => setBusy(state.busy));
ui.dataFiles.addEventListener("change", () => {
  // Choosing no files goes back to the files the page's server serves.
  const chosen = [...(ui.dataFiles.files ?? [])];
  state.chosenFiles = chosen.length > 0 ? chosen : undefined;
  ui.dataSource.textContent = chosen.length > 0 ? "chosen files" : "served by this page's server";
  state.data = undefined;
  if (chosen.length > 0) void act(async () => void (await ensureData()));
});

/** Evaluates a dropped run's model on the test images and shows its accuracy and predictions. */
function openRun(files: File[]): Promise<void> {
  return act(async () => {
    setBusy(true);
    const engine = await ensureEngine();
    const data = await ensureData();
    const { model, name } = await loadRunModel(files);
    try {
      const inputSize = model.inputs[0]!.shape[1] as number;
      const testCount = Number($<HTMLInputElement>("testCount").value) || data.test.count;
      const testSet = takeImages(data.test, testCount);
      const { accuracy, predictions, count } = await evaluate(model, testSet, { inputSize });
      ui.runResult.textContent = `${name}: test acc ${accuracy.toFixed(4)} on ${count} test images (${inputSize}×${inputSize}), on ${engine.description}`;
      drawPredictions(ui.predictions, testSet, predictions, FASHION_MNIST_CLASSES);
    } finally {
      model.dispose();
    }
  });
}
ui.runFiles.addEventListener("change", () => openRun([...(ui.runFiles.files ?? [])]));
ui.drop.addEventListener("dragover", (e) => {
  e.preventDefault();
  ui.drop.classList.add("over");
});
ui.drop.addEventListener("dragleave", () => ui.drop.classList.remove("over"));
ui.drop.addEventListener("drop", (e) => {
  e.preventDefault();
  ui.drop.classList.remove("over");
  void openRun([...(e.dataTransfer?.files ?? [])]);
});

for (const spec of networks()) ui.network.add(new Option(`${spec.title} (${spec.name})`, spec.name));
fillRecipe(networks()[0]!);
setBusy(false);
