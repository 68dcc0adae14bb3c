/**
 * @convnets/trainer: the `convnets` command, and its pieces for programs that want them.
 * Most people use the command; `main` runs it in-process.
 */
export { main } from "./cli.js";
export { type CliContext, EXIT, UsageError } from "./context.js";
export { curvesSpec, curvesSvg } from "./chart.js";
export { d2lLines, historyCsv, overallExamplesPerSec } from "./history.js";
export {
  findModel,
  type FoundModel,
  isModelSpec,
  KNOWN_MODELS,
  type ModelSource,
  specOf,
} from "./registry.js";
export { type ListedModel, listModels } from "./commands/list.js";
export type { BenchResult } from "./commands/bench.js";
export {
  type CheckpointRecord,
  DamagedRunError,
  loadRunModel,
  RUN_FILES,
  type RunRecord,
  type RunStatus,
  readCheckpoint,
  readRun,
} from "./run-dir.js";
export { type ClaimOptions, claimNewRunDir, claimRunDir, LOCK_FILE, type LockHolder, type RunClaim, RunDirBusyError } from "./run-lock.js";
export { FileProblem } from "./file-errors.js";
export { signalExitCode, suggestLr, type TrainOutcome, type TrainRunOptions, trainRun } from "./train-run.js";
export { type Prediction, predictionsPng, predictionsSvg } from "./picture.js";
