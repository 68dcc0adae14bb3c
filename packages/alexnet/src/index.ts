// Importing this package registers its network (`alexnet`) with @convnets/model's registry.
import { registerModel } from "@convnets/model";
import { alexnetSpec } from "./alexnet.js";

export { type AlexNetOptions, alexnet, alexnetFeatureSize, alexnetSpec } from "./alexnet.js";

registerModel(alexnetSpec);
