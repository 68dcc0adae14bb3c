import { trainingChecks } from "@convnets/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LENETS } from "./network.js";

// On the real engine (tfjs-node where installed, else wasm with convnets' training kernels) with real
// Fashion-MNIST images: logits at 28×28, 20 steps of the book's recipe lowering the loss (and moving LeNet-BN's
// moving statistics), then a saveModel / loadModel round trip that keeps them (the rows say how).
for (const row of LENETS) trainingChecks({ describe, it, expect, beforeAll, afterAll }, row);
