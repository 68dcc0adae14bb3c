/**
 * `@convnets/core/model`: kept for compatibility. The contract of a network now lives in `@convnets/model`, which
 * network packages depend on instead of core; this entry re-exports it.
 */
export * from "@convnets/model";
export type { Batch } from "./spec.js";
