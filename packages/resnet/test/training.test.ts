import { trainingChecks } from "@convnets/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RESNET18 } from "./network.js";

// Real engine (wasm, with core's training kernels) on real Fashion-MNIST images: logits at 96×96, a few
// epochs of train() at 32×32 lowering the loss and moving the BatchNorms' statistics, then a saveModel /
// loadModel round trip that keeps them (ResNet-18's row says how).
trainingChecks({ describe, it, expect, beforeAll, afterAll }, RESNET18);
