// Importing this package registers its network (`googlenet`) with @convnets/model's registry.
import { registerModel } from "@convnets/model";
import { googlenetSpec } from "./googlenet.js";

export { type GoogLeNetOptions, googlenet, googlenetSpec, type InceptionChannels, inception } from "./googlenet.js";

registerModel(googlenetSpec);
