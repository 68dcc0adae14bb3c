export {
  RESNET_MIN_INPUT_SIZE,
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
