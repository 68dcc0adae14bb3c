export {
  type GoogLeNetOptions,
  googlenet,
  googlenetMinInputSize,
  googlenetSpec,
  type InceptionChannels,
  inception,
} from "./googlenet.js";
