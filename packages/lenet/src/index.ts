// Importing this package registers its networks (`lenet`, `lenet-bn`) with @convnets/model's registry.
import { registerModel } from "@convnets/model";
import { lenetBNSpec, lenetSpec } from "./lenet.js";

export { type LenetOptions, lenet, lenetBN, lenetBNSpec, lenetSpec } from "./lenet.js";

registerModel(lenetSpec);
registerModel(lenetBNSpec);
