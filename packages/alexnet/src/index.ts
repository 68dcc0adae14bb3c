export { ALEXNET_MIN_INPUT_SIZE, type AlexNetOptions, alexnet, alexnetFeatureSize, alexnetSpec } from "./alexnet.js";
