import "@tensorflow/tfjs-backend-cpu";
import { gradientChecks } from "@convnets/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GOOGLENET } from "./network.js";

// Training on wasm runs kernels core adds or replaces (conv backprop, pooling gradients); this runs them
// together in the geometries GoogLeNet uses and compares with tfjs's reference cpu backend.
gradientChecks({ describe, it, expect, beforeAll, afterAll }, GOOGLENET);
