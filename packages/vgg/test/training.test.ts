import { trainingChecks } from "@convnets/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VGG11 } from "./network.js";

// On the wasm engine with real Fashion-MNIST images: logits of the full-width VGG-11 at 224×224, the loss
// falling in a few SGD steps at the smallest input with channels ÷ 8, and a saveModel / loadModel round
// trip (VGG-11's row says how).
trainingChecks({ describe, it, expect, beforeAll, afterAll }, VGG11);
