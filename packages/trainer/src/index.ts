/**
 * @convnets/trainer: the `convnets` command, and its pieces for programs that want them.
 * Most people use the command; `main` runs it in-process.
 */

export { curvesSpec, curvesSvg } from "./chart.js";
export { main } from "./cli.js";
export type { BenchResult } from "./commands/bench.js";
export { type ListedModel, listModels } from "./commands/list.js";
export { type CliContext, EXIT, UsageError } from "./context.js";
export { FileProblem } from "./file-errors.js";
export { type Align, formatDuration, formatInt, formatTable, markdownTable, timestamp } from "./format.js";
export { d2lLines, historyCsv, overallExamplesPerSec } from "./history.js";
export { median } from "./median.js";
export { type Prediction, predictionsPng, predictionsSvg } from "./picture.js";
export {
  type FoundModel,
  findModel,
  installedNetworkPackages,
  isModelSpec,
  type ModelSource,
  type RegisteredModel,
  registeredModels,
  specOf,
} from "./registry.js";
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
export {
  type ClaimOptions,
  claimNewRunDir,
  claimRunDir,
  LOCK_FILE,
  type LockHolder,
  type RunClaim,
  RunDirBusyError,
} from "./run-lock.js";
export { signalExitCode, suggestLr, type TrainOutcome, type TrainRunOptions, trainRun } from "./train-run.js";
