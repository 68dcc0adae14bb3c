import { trainingChecks } from "@convnets/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DENSENET } from "./network.js";

// Real engine (wasm, with core's training kernels) on real Fashion-MNIST images: logits at 96×96, a few
// epochs of train() at 32×32 lowering the loss and moving the BatchNorms' statistics, then a saveModel /
// loadModel round trip that keeps them (DenseNet's row says how).
trainingChecks({ describe, it, expect, beforeAll, afterAll }, DENSENET);
