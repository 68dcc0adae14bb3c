import "@tensorflow/tfjs-backend-cpu";
import { gradientChecks } from "@convnets/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RESNET18 } from "./network.js";

// Training on wasm runs kernels core adds or replaces (conv backprop, pooling gradients) and the custom
// BatchNorm; this runs them together in the geometries ResNet uses and compares with tfjs's reference cpu backend.
gradientChecks({ describe, it, expect, beforeAll, afterAll }, RESNET18);
