// Importing this package registers its networks (`vgg11`, `vgg13`, `vgg16`, `vgg19`) with @convnets/model's registry.
import { registerModel } from "@convnets/model";
import { vgg11Spec, vgg13Spec, vgg16Spec, vgg19Spec } from "./vgg.js";

export {
  VGG11_ARCH,
  VGG11_BOOK_WIDTH_DIVISOR,
  VGG13_ARCH,
  VGG16_ARCH,
  VGG19_ARCH,
  type VggArch,
  type VggBlockSpec,
  type VggOptions,
  vgg,
  vgg11,
  vgg11Spec,
  vgg13,
  vgg13Spec,
  vgg16,
  vgg16Spec,
  vgg19,
  vgg19Spec,
  vggBlock,
  vggFeatureSize,
} from "./vgg.js";

for (const spec of [vgg11Spec, vgg13Spec, vgg16Spec, vgg19Spec]) registerModel(spec);
