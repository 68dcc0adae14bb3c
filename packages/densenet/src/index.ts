export {
  convBlock,
  type DenseBlockArgs,
  type DenseNetOptions,
  denseBlock,
  densenet,
  densenetMinInputSize,
  densenetSpec,
  transitionBlock,
} from "./densenet.js";
