// Importing this package registers its networks (`resnet18`, `resnet34`) with @convnets/model's registry.
import { registerModel } from "@convnets/model";
import { resnet18Spec, resnet34Spec } from "./resnet.js";

export {
  type ResidualArgs,
  type ResNetBlockArgs,
  type ResNetOptions,
  residual,
  resnet,
  resnet18,
  resnet18Spec,
  resnet34,
  resnet34Spec,
  resnetBlock,
} from "./resnet.js";

registerModel(resnet18Spec);
registerModel(resnet34Spec);
