import { spawn } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { mkdir, readFile, unlink } from "node:fs/promises";
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { EpochMetrics } from "@convnets/core";
import { DelayedError, type Job, UnrecoverableError, WaitingError, Worker } from "bullmq";
import { checkBackend, startEngine, THREADS_HELP, threadsOption } from "../common.js";
import { type CliContext, EXIT, println, UsageError } from "../context.js";
import { formatDuration } from "../format.js";
import { intOption, parseCommandArgs, stringOption } from "../options.js";
import { RUN_FILES, readCheckpoint } from "../run-dir.js";
import { LOCK_FILE, type LockHolder } from "../run-lock.js";
import { Prefixed } from "../sweep/lines.js";
import { lockTiming, MAX_WORKER_LOSSES, QUEUE_NAME, queueUrl, reachRedis, shownUrl } from "../sweep/queue.js";
import type { SweepRun } from "../sweep/spec.js";
import { type RunSummary, trainSweepRun } from "../sweep/train-sweep-run.js";

export const WORKER_HELP = `convnets worker --queue URL --runs DIR [options]

Takes runs from the queue that \`convnets sweep SPEC --queue URL\` filled and trains each into DIR/<run id>,
one at a time, checkpointing every epoch and reporting its progress into the queue. Start as many as you
like, on as many machines: DIR must be the same directory for all of them (e.g. over NFS). A worker that
dies has its run taken by another worker, which resumes it from its last checkpoint. Ctrl-C or SIGTERM:
the run stops after the current batch, keeps its last epoch's checkpoint, goes back on the queue for any
worker to resume, and the worker exits.

  --queue URL       redis://HOST:PORT[/DB] (default: CONVNETS_QUEUE)
  --runs DIR        the shared runs directory
  --concurrency N   runs at once on this machine, each in its own worker process (default 1)
  --backend NAME    auto, tensorflow, webgpu, wasm or cpu (default auto, or CONVNETS_BACKEND)
${THREADS_HELP.replace("every core)", "every core, shared out among --concurrency)")}
  --data-dir DIR    Fashion-MNIST's directory (default: FASHION_MNIST_DIR, the cache, Debian's package)`;

const OPTIONS = {
  queue: { type: "string" },
  runs: { type: "string" },
  concurrency: { type: "string" },
  backend: { type: "string" },
  threads: { type: "string" },
  "data-dir": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** What a job reports while it runs (`job.progress`); `convnets sweep status` shows it. */
export interface RunProgress {
  worker: string;
  engine: string;
  epoch: number;
  epochs: number;
  loss?: number;
  trainAcc?: number;
  testAcc?: number;
  examplesPerSec?: number;
  /** Seconds left, from this worker's time per epoch so far. */
  etaSeconds?: number;
}

export async function workerCommand(argv: string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseCommandArgs("worker", argv, OPTIONS);
  if (values.help) {
    println(ctx.stdout, WORKER_HELP);
    return EXIT.ok;
  }
  if (positionals.length > 0)
    throw new UsageError(
      `worker takes no arguments, got ${positionals.join(" ")} (options: see convnets worker --help)`,
    );
  const url = queueUrl(stringOption(values.queue));
  if (!url) throw new UsageError("worker: which queue? give --queue redis://HOST:PORT (or set CONVNETS_QUEUE)");
  const runsArg = stringOption(values.runs);
  if (!runsArg)
    throw new UsageError(
      "worker: where do runs go? give --runs DIR, the same directory for every worker (e.g. on NFS)",
    );
  const runs = resolve(ctx.cwd, runsArg);
  if (existsSync(runs) && !statSync(runs).isDirectory())
    throw new UsageError(`--runs ${runsArg} is a file, not a directory`);
  const concurrency =
    intOption("concurrency", values.concurrency, 1, "how many runs at once on this machine, e.g. 2") ?? 1;
  const backend = checkBackend(stringOption(values.backend));
  const threads = threadsOption(values.threads);
  const dataDir = stringOption(values["data-dir"]);
  lockTiming(); // a bad CONVNETS_WORKER_LOCK_MS is refused before anything starts
  if (concurrency > 1) return superviseWorkers(argv, concurrency, threads, ctx);

  const connection = await reachRedis(url);
  await mkdir(runs, { recursive: true });
  const engine = await startEngine(backend, { threads, notes: ctx.stderr });
  const name = `${hostname()}:${process.pid}`;
  println(ctx.stdout, `worker ${name}: engine ${engine.description}; queue ${shownUrl(url)}; runs ${runs}`);

  let stopping = false;
  const active = new Map<string, AbortController>();
  const worker = new Worker<SweepRun, RunSummary>(
    QUEUE_NAME,
    async (job, token) => {
      const run = job.data;
      const dir = join(runs, run.id);
      const controller = new AbortController();
      active.set(job.id!, controller);
      const out = new Prefixed(ctx.stdout, `[${run.id}] `);
      // The worker it was taken from, if any (read before this worker reports its own progress).
      const previous = job.progress as Partial<RunProgress> | number | undefined;
      const report = progressReporter(
        job,
        { worker: name, engine: engine.description, epochs: run.epochs },
        await epochsDone(dir),
      );
      try {
        const train = () =>
          trainSweepRun(run, dir, {
            ctx: { stdout: out, stderr: new Prefixed(ctx.stderr, `[${run.id}] `), cwd: ctx.cwd },
            signal: controller.signal,
            backend,
            threads,
            dataDir,
            onEpoch: report,
          });
        let outcome = await train();
        if (
          outcome.status === "busy" &&
          typeof previous === "object" &&
          (await takeOverLostWorker(dir, outcome.holder, previous.worker))
        ) {
          println(
            ctx.stderr,
            `[${run.id}] note: took over run.lock from ${previous.worker}, which lost this run (BullMQ found it stalled)`,
          );
          outcome = await train();
        }
        if (outcome.status === "complete") {
          println(ctx.stdout, `[${run.id}] done: test acc ${outcome.summary.testAcc.toFixed(3)}`);
          return outcome.summary;
        }
        if (outcome.status === "interrupted") {
          if (stopping && token) {
            await job.moveToWait(token);
            println(
              ctx.stdout,
              `[${run.id}] back on the queue after epoch ${outcome.epochs}, for any worker to resume`,
            );
            throw new WaitingError();
          }
          // Aborted because this worker lost the job (its lock lapsed): another worker owns it now.
          throw new Error(`${name} lost its hold on the job after epoch ${outcome.epochs}`);
        }
        if (outcome.status === "busy") {
          // Another live process holds the run directory (a worker on another machine that lost its hold on the
          // job but still writes, or someone's own `convnets train`): leave it be and try again later.
          const later = lockTiming().lockDuration;
          println(ctx.stderr, `[${run.id}] ${outcome.reason} Trying again in ${formatDuration(later / 1000)}.`);
          await job.moveToDelayed(Date.now() + later, token);
          throw new DelayedError();
        }
        println(ctx.stderr, `[${run.id}] ${outcome.status}: ${outcome.reason}`);
        throw new UnrecoverableError(`${outcome.status}: ${outcome.reason}`);
      } finally {
        active.delete(job.id!);
      }
    },
    {
      connection: { ...connection, maxRetriesPerRequest: null },
      concurrency: 1,
      ...lockTiming(),
      maxStalledCount: MAX_WORKER_LOSSES,
      // BullMQ's own attempts stay at 1: a run that throws is not retried (see MAX_WORKER_LOSSES).
    },
  );
  // A lock that could not be renewed: another worker may already be resuming this run; stop writing to it.
  worker.on("lockRenewalFailed", (ids: string[]) => {
    for (const id of ids) active.get(id)?.abort();
  });
  let lastError = "";
  worker.on("error", (err) => {
    const line = `worker: ${err.message} (${shownUrl(url)}); retrying`;
    if (line !== lastError) println(ctx.stderr, line);
    lastError = line;
  });
  worker.on("ready", () => {
    if (lastError) println(ctx.stderr, `worker: connected to ${shownUrl(url)} again`);
    lastError = "";
  });

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(EXIT.interrupted);
    stopping = true;
    println(
      ctx.stderr,
      `worker ${name}: stopping after this batch; the run goes back on the queue (signal again to quit at once)`,
    );
    for (const controller of active.values()) controller.abort(signal);
  };
  const closed = new Promise<void>((done) => {
    const onStop = (signal?: NodeJS.Signals) => {
      stop(typeof signal === "string" ? signal : "SIGTERM");
      worker.close().then(done, done);
    };
    ctx.signal?.addEventListener("abort", () => onStop());
    if (ctx.handleSigint !== false) {
      process.on("SIGINT", onStop);
      process.on("SIGTERM", onStop);
      process.on("SIGHUP", onStop);
    }
  });
  await closed;
  return EXIT.ok;
}

/**
 * A run directory held by a process on another machine is taken over when that process is the worker the
 * job was taken from: BullMQ handed the job on because that worker stopped renewing its hold for a whole
 * lock period (it died, or lost Redis and stops its training on its own). Only on another host: on this one,
 * `run.lock` already tells a dead holder from a live one.
 */
async function takeOverLostWorker(dir: string, holder: LockHolder, lastWorker: string | undefined): Promise<boolean> {
  if (holder.host === hostname() || lastWorker !== `${holder.host}:${holder.pid}`) return false;
  const path = join(dir, LOCK_FILE);
  const current = await readFile(path, "utf8").then(
    (text) => JSON.parse(text) as LockHolder,
    () => undefined,
  );
  if (current?.token !== holder.token) return false;
  await unlink(path).catch(() => {});
  return true;
}

/** Epochs the run directory's checkpoint holds (0 for a new run). */
async function epochsDone(dir: string): Promise<number> {
  return existsSync(join(dir, RUN_FILES.checkpoint))
    ? ((await readCheckpoint(dir).catch(() => undefined))?.epoch ?? 0)
    : 0;
}

/**
 * Reports the run's progress into its job: at once (who has it, from which epoch), then after each epoch with
 * its metrics and the time left at this worker's pace so far. Returns the per-epoch callback.
 */
function progressReporter(job: Job, base: Pick<RunProgress, "worker" | "engine" | "epochs">, fromEpoch: number) {
  const started = performance.now();
  const update = (progress: RunProgress) => job.updateProgress(progress as unknown as object).catch(() => {});
  void update({ ...base, epoch: fromEpoch });
  return async (m: EpochMetrics) => {
    const perEpoch = (performance.now() - started) / 1000 / Math.max(1, m.epoch - fromEpoch);
    await update({
      ...base,
      epoch: m.epoch,
      loss: m.loss,
      trainAcc: m.trainAcc,
      testAcc: m.testAcc,
      examplesPerSec: m.examplesPerSec,
      etaSeconds: perEpoch * (base.epochs - m.epoch),
    });
  };
}

/**
 * `--concurrency N`: N worker processes, each taking one run at a time with its share of the threads
 * (tfjs trains one model per process at a time). Signals are passed on; returns when all have exited.
 */
async function superviseWorkers(
  argv: string[],
  n: number,
  threads: number | undefined,
  ctx: CliContext,
): Promise<number> {
  const bin = fileURLToPath(new URL("../../bin/convnets.js", import.meta.url));
  const each = threads ?? Math.max(1, Math.floor((await import("node:os")).availableParallelism() / n));
  const args = stripOptions(argv, ["concurrency", "threads"]);
  println(ctx.stdout, `worker: starting ${n} worker processes, ${each} thread${each === 1 ? "" : "s"} each`);
  const children = Array.from({ length: n }, () =>
    spawn(process.execPath, [bin, "worker", ...args, "--threads", String(each)], {
      cwd: ctx.cwd,
      stdio: ["ignore", "pipe", "pipe"],
    }),
  );
  for (const child of children) {
    child.stdout.pipe(ctx.stdout, { end: false });
    child.stderr.pipe(ctx.stderr, { end: false });
  }
  const forward = (signal: NodeJS.Signals) => () => {
    for (const child of children) child.kill(signal);
  };
  const onInt = forward("SIGINT");
  const onTerm = forward("SIGTERM");
  if (ctx.handleSigint !== false) {
    process.on("SIGINT", onInt);
    process.on("SIGTERM", onTerm);
  }
  const codes = await Promise.all(
    children.map((child) => new Promise<number>((done) => child.on("exit", (code) => done(code ?? EXIT.failed)))),
  );
  process.off("SIGINT", onInt);
  process.off("SIGTERM", onTerm);
  const worst = Math.max(...codes);
  if (worst !== 0)
    println(ctx.stderr, `worker: ${codes.filter((c) => c !== 0).length} of ${n} worker processes exited with an error`);
  return worst === 0 ? EXIT.ok : EXIT.failed;
}

function stripOptions(argv: string[], names: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const name = names.find((n) => arg === `--${n}` || arg.startsWith(`--${n}=`));
    if (name === undefined) out.push(arg);
    else if (arg === `--${name}`) i++;
  }
  return out;
}

export const formatEta = (seconds: number | undefined) =>
  seconds === undefined ? "estimating" : `about ${formatDuration(seconds)} left`;
