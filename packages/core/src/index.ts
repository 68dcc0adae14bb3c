// The Node entry: everything browser-safe (./browser.ts), plus engines, files, downloads and model directories.
export * from "./browser.js";
export {
  candidateDirs,
  DEBIAN_FASHION_MNIST_DIR,
  defaultCacheDir,
  downloadFashionMnist,
  FASHION_MNIST_SHA256,
  FASHION_MNIST_URL,
  type FashionMnist,
  type LoadFashionMnistOptions,
  loadFashionMnist,
} from "./data/fashion-mnist.js";
export { readIdx } from "./data/idx-file.js";
export {
  ENGINE_PREFERENCES,
  type EngineInfo,
  type EngineOptions,
  type EnginePreference,
  setupEngine,
} from "./engine.js";
export { loadModel, ModelFileError, saveModel } from "./io.js";
