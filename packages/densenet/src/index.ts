// Importing this package registers its network (`densenet`) with @convnets/model's registry.
import { registerModel } from "@convnets/model";
import { densenetSpec } from "./densenet.js";

export {
  convBlock,
  type DenseBlockArgs,
  type DenseNetOptions,
  denseBlock,
  densenet,
  densenetSpec,
  transitionBlock,
} from "./densenet.js";

registerModel(densenetSpec);
