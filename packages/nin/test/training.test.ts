import { trainingChecks } from "@convnets/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NIN } from "./network.js";

// On the wasm engine with real Fashion-MNIST images: logits at 224×224, the loss falling in a few SGD steps
// at the smallest input, and a saveModel / loadModel round trip (NiN's row says how).
trainingChecks({ describe, it, expect, beforeAll, afterAll }, NIN);
