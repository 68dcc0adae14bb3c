export { NIN_MIN_INPUT_SIZE, type NinBlockOptions, type NinOptions, nin, ninBlock, ninFeatureSize, ninSpec } from "./nin.js";
