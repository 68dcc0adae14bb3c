// Importing this package registers its network (`nin`) with @convnets/model's registry.
import { registerModel } from "@convnets/model";
import { ninSpec } from "./nin.js";

export { type NinBlockOptions, type NinOptions, nin, ninBlock, ninFeatureSize, ninSpec } from "./nin.js";

registerModel(ninSpec);
