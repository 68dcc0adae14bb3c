import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { type Job, Queue } from "bullmq";
import { vegaLiteSvg } from "../chart.js";
import { checkBackend, THREADS_HELP, threadsOption } from "../common.js";
import { type CliContext, EXIT, println, UsageError } from "../context.js";
import { f3, formatDuration, formatTable } from "../format.js";
import { parseCommandArgs, stringOption } from "../options.js";
import { displayPath, writeFileAtomic, writeJsonAtomic } from "../run-dir.js";
import { QUEUE_NAME, queueUrl, reachRedis, shownUrl } from "../sweep/queue.js";
import { readResults, resultRows, resultsChart, resultsCsv, resultsMarkdown } from "../sweep/results.js";
import { readSweep, type Sweep, type SweepRun } from "../sweep/spec.js";
import { type RunSummary, trainSweepRun } from "../sweep/train-sweep-run.js";
import { signalExitCode } from "../train-run.js";
import type { RunProgress } from "./worker.js";

export const SWEEP_HELP = `convnets sweep SPEC [--queue URL | --runs DIR] [--dry-run]
convnets sweep status [SPEC] [--queue URL]
convnets sweep results SPEC [--runs DIR] [--out DIR]

Many runs from one spec file (JSON or YAML): networks × seeds × recipe values, and/or a list of runs.
Each run has an id made of its network and whole recipe (lenet-e10-lr0.9-b256-in28-all-s0), which names
its queue job and its run directory DIR/<id>.

  sweep SPEC          without --queue: trains the runs here, one after another, into --runs DIR
                      (a run already complete is kept, an interrupted one resumed);
                      with --queue: puts the runs on the queue for \`convnets worker\`s; submitting the
                      same spec again adds nothing (runs that failed are put back)
  sweep status        the queue's runs: waiting, active (epoch, time left), done, failed (why)
  sweep results SPEC  one table per network and recipe: test accuracy mean (min–max) over the seeds,
                      final loss, examples/sec, wall time, engine; writes <name>.md, <name>.csv and
                      <name>.vl.json (a vega-lite chart: accuracy by network, one point
                      per seed) and <name>.svg (that chart drawn)

  --queue URL       redis://HOST:PORT[/DB] (default: CONVNETS_QUEUE; neither: train here)
  --runs DIR        the runs directory (default runs)
  --dry-run         list the runs and stop
  --out DIR         where results writes its files (default: the runs directory)
  --backend NAME    (trained here) auto, tensorflow, webgpu, wasm or cpu
${THREADS_HELP}
  --data-dir DIR    (trained here) Fashion-MNIST's directory

A spec:
  name: lenet-seeds          # optional; default the file's name
  networks: [lenet, lenet-bn]
  seeds: [0, 1, 2]           # default [0]
  recipe:                    # epochs, lr, batch-size, input-size, limit: a value or a list (crossed)
    epochs: 10
    lr: [0.3, 0.9]
  runs:                      # and/or single runs; what they leave out is the network's recipe (a list is crossed)
    - { network: alexnet, lr: 0.01, epochs: 5, seed: 0 }`;

const OPTIONS = {
  queue: { type: "string" },
  runs: { type: "string" },
  out: { type: "string" },
  "dry-run": { type: "boolean" },
  backend: { type: "string" },
  threads: { type: "string" },
  "data-dir": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

type Values = ReturnType<typeof parseCommandArgs>["values"];

export async function sweepCommand(argv: string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseCommandArgs("sweep", argv, OPTIONS);
  if (values.help) {
    println(ctx.stdout, SWEEP_HELP);
    return EXIT.ok;
  }
  const [first, ...rest] = positionals;
  if (first === "status") return statusCommand(rest, values, ctx);
  if (first === "results") return resultsCommand(rest, values, ctx);
  if (!first)
    throw new UsageError("sweep: which spec? e.g. convnets sweep sweep.yaml (convnets sweep --help shows the format)");
  if (rest.length > 0) throw new UsageError(`sweep takes one spec, got ${positionals.join(" ")}`);
  const backend = checkBackend(stringOption(values.backend));
  const threads = threadsOption(values.threads);
  const sweep = await readSweep(first, ctx.cwd);
  const url = queueUrl(stringOption(values.queue));
  const runs = resolve(ctx.cwd, stringOption(values.runs) ?? "runs");
  if (values["dry-run"]) {
    listRuns(sweep, url ? `the queue at ${shownUrl(url)}` : displayPath(runs, ctx.cwd), ctx);
    return EXIT.ok;
  }
  if (url) return enqueue(sweep, url, ctx);
  return trainHere(sweep, runs, { backend, threads, dataDir: stringOption(values["data-dir"]) }, ctx);
}

function listRuns(sweep: Sweep, where: string, ctx: CliContext): void {
  println(
    ctx.stdout,
    `sweep ${sweep.name}: ${sweep.runs.length} run${sweep.runs.length === 1 ? "" : "s"} (dry run: nothing goes to ${where})`,
  );
  const rows = sweep.runs.map((r) => [
    r.id,
    r.network,
    String(r.epochs),
    String(r.lr),
    String(r.batchSize),
    String(r.inputSize),
    r.limit ? String(r.limit) : "all",
    String(r.seed),
  ]);
  println(
    ctx.stdout,
    formatTable(["run", "network", "epochs", "lr", "batch", "input", "images", "seed"], rows, [
      "left",
      "left",
      "right",
      "right",
      "right",
      "right",
      "right",
      "right",
    ]),
  );
}

async function enqueue(sweep: Sweep, url: string, ctx: CliContext): Promise<number> {
  const connection = await reachRedis(url);
  const queue = new Queue<SweepRun, RunSummary, string>(QUEUE_NAME, { connection });
  queue.on("error", () => {});
  try {
    let added = 0;
    let present = 0;
    let retried = 0;
    for (const run of sweep.runs) {
      const job = await queue.getJob(run.id);
      if (!job) {
        await queue.add(run.id, run, { jobId: run.id, removeOnComplete: false, removeOnFail: false });
        added++;
      } else if (await job.isFailed()) {
        await job.retry("failed");
        retried++;
      } else {
        present++;
      }
    }
    println(
      ctx.stdout,
      `sweep ${sweep.name}: ${added} run${added === 1 ? "" : "s"} added to the queue at ${shownUrl(url)}` +
        (present ? `, ${present} already there` : "") +
        (retried ? `, ${retried} that had failed put back` : ""),
    );
    println(
      ctx.stdout,
      `train them: convnets worker --queue ${shownUrl(url)} --runs DIR (on each machine, the same DIR)`,
    );
    println(
      ctx.stdout,
      `watch: convnets sweep status --queue ${shownUrl(url)}; collect: convnets sweep results ${displayPath(sweep.path, ctx.cwd)} --runs DIR`,
    );
    return EXIT.ok;
  } finally {
    await queue.close();
  }
}

/** The embedded default: the runs one after another, here; Ctrl-C stops after the batch, and running the same command again resumes. */
async function trainHere(
  sweep: Sweep,
  runs: string,
  engine: { backend?: string; threads?: number; dataDir?: string },
  ctx: CliContext,
): Promise<number> {
  await mkdir(runs, { recursive: true });
  const controller = new AbortController();
  const onAbort = () => controller.abort();
  ctx.signal?.addEventListener("abort", onAbort);
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(EXIT.interrupted);
    println(ctx.stderr, "stopping after this batch; run the same command again to resume (again to quit at once)");
    controller.abort(signal);
  };
  const signals = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
  if (ctx.handleSigint !== false) for (const s of signals) process.on(s, onSignal);
  const failed: string[] = [];
  try {
    for (const [i, run] of sweep.runs.entries()) {
      const dir = join(runs, run.id);
      println(ctx.stdout, `[${i + 1}/${sweep.runs.length}] ${run.id} → ${displayPath(dir, ctx.cwd)}`);
      const outcome = await trainSweepRun(run, dir, { ctx, signal: controller.signal, ...engine });
      if (outcome.status === "interrupted") {
        println(
          ctx.stderr,
          `sweep ${sweep.name} stopped at run ${i + 1} of ${sweep.runs.length}; the same command resumes it`,
        );
        return signalExitCode(typeof controller.signal.reason === "string" ? controller.signal.reason : undefined);
      }
      if (outcome.status !== "complete") {
        // busy: another process writes this run directory (one writer per run); the next sweep picks it up.
        println(
          ctx.stderr,
          `[${i + 1}/${sweep.runs.length}] ${run.id} ${outcome.status}: ${outcome.reason}; going on with the next run`,
        );
        failed.push(run.id);
      }
    }
  } finally {
    ctx.signal?.removeEventListener("abort", onAbort);
    for (const s of signals) process.off(s, onSignal);
  }
  println(ctx.stdout);
  println(ctx.stdout, resultsMarkdown(sweep.name, resultRows(await readResults(sweep, runs))));
  if (failed.length) {
    println(
      ctx.stderr,
      `sweep ${sweep.name}: ${failed.length} of ${sweep.runs.length} runs failed: ${failed.join(", ")}`,
    );
    return EXIT.failed;
  }
  return EXIT.ok;
}

const STATES = ["active", "waiting", "prioritized", "delayed", "completed", "failed"] as const;

async function statusCommand(args: string[], values: Values, ctx: CliContext): Promise<number> {
  if (args.length > 1) throw new UsageError(`sweep status takes at most one spec, got ${args.join(" ")}`);
  const url = queueUrl(stringOption(values.queue));
  if (!url)
    throw new UsageError("sweep status reads the queue: give --queue redis://HOST:PORT (or set CONVNETS_QUEUE)");
  const only = args[0] ? new Set((await readSweep(args[0], ctx.cwd)).runs.map((r) => r.id)) : undefined;
  const connection = await reachRedis(url);
  const queue = new Queue<SweepRun, RunSummary, string>(QUEUE_NAME, { connection });
  queue.on("error", () => {});
  try {
    const rows: string[][] = [];
    const counts: Record<string, number> = {};
    for (const state of STATES) {
      const jobs = (await queue.getJobs([state])).filter((j) => j && (!only || only.has(j.id!)));
      jobs.sort((a, b) => a.id!.localeCompare(b.id!));
      for (const job of jobs) {
        const shown =
          state === "completed" ? "done" : state === "prioritized" || state === "delayed" ? "waiting" : state;
        counts[shown] = (counts[shown] ?? 0) + 1;
        rows.push([job.id!, shown, detail(job, state)]);
      }
    }
    if (rows.length === 0) {
      println(ctx.stdout, `no runs on the queue at ${shownUrl(url)}${only ? " for this spec" : ""}`);
      return EXIT.ok;
    }
    println(ctx.stdout, formatTable(["run", "state", ""], rows));
    const order = ["waiting", "active", "done", "failed"];
    println(ctx.stdout, `${rows.length} runs: ${order.map((s) => `${counts[s] ?? 0} ${s}`).join(", ")}`);
    return EXIT.ok;
  } finally {
    await queue.close();
  }
}

function detail(job: Job<SweepRun, RunSummary>, state: (typeof STATES)[number]): string {
  if (state === "completed" && job.returnvalue) {
    const r = job.returnvalue;
    return `test acc ${f3(r.testAcc)}, loss ${f3(r.loss)}, ${formatDuration(r.seconds)} on ${r.engine}`;
  }
  if (state === "failed") return job.failedReason ?? "";
  const p = job.progress as Partial<RunProgress> | number;
  if (state === "active" && typeof p === "object" && p.epochs) {
    const eta = p.etaSeconds === undefined ? "estimating time left" : `about ${formatDuration(p.etaSeconds)} left`;
    return `${p.epoch} of ${p.epochs} epochs done${p.testAcc !== undefined ? ` (test acc ${f3(p.testAcc)})` : ""}, ${eta}, on ${p.worker} (${p.engine})`;
  }
  if (typeof p === "object" && p.epoch) return `resumes after epoch ${p.epoch} of ${p.epochs}`;
  return "";
}

async function resultsCommand(args: string[], values: Values, ctx: CliContext): Promise<number> {
  if (args.length !== 1)
    throw new UsageError("sweep results: which spec? e.g. convnets sweep results sweep.yaml --runs runs");
  const sweep = await readSweep(args[0]!, ctx.cwd);
  const runs = resolve(ctx.cwd, stringOption(values.runs) ?? "runs");
  const out = resolve(ctx.cwd, stringOption(values.out) ?? runs);
  const results = await readResults(sweep, runs);
  const rows = resultRows(results);
  const markdown = resultsMarkdown(sweep.name, rows);
  println(ctx.stdout, markdown);
  for (const r of results) {
    if (r.status !== "complete") {
      const why =
        r.status === "missing"
          ? `no run directory in ${displayPath(runs, ctx.cwd)} yet`
          : `${r.status}${r.message ? `: ${r.message}` : ""}`;
      println(ctx.stdout, `${r.run.id}: ${why}`);
    }
  }
  await mkdir(out, { recursive: true });
  const base = join(out, sweep.name);
  await writeFileAtomic(`${base}.md`, markdown);
  await writeFileAtomic(`${base}.csv`, resultsCsv(rows));
  const chart = resultsChart(sweep.name, results);
  await writeJsonAtomic(`${base}.vl.json`, chart);
  await writeFileAtomic(`${base}.svg`, await vegaLiteSvg(chart));
  const shown = displayPath(base, ctx.cwd);
  println(ctx.stdout, `wrote ${shown}.md, ${shown}.csv, ${shown}.vl.json (the chart; drawn in ${shown}.svg)`);
  return results.some((r) => r.status === "complete") ? EXIT.ok : EXIT.failed;
}
