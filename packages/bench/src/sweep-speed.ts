/**
 * A sweep of 4 LeNet runs two ways, on this machine: one after another in one process (`convnets sweep`, the
 * embedded default) and on a Redis queue with 2 local worker processes (`convnets worker --concurrency 2`);
 * one wasm thread per run both ways. Wall time from the command to the 4th run done, median of --rounds,
 * alternating the two; the ratio is the target's (≤ 0.7). Starts its own redis-server.
 *
 *   pnpm --filter @convnets/bench sweep:speed [--rounds 3] [--limit 20000] [--epochs 2]
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { median } from "@convnets/trainer";
import { Queue } from "bullmq";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    limit: { type: "string", default: "20000" },
    epochs: { type: "string", default: "2" },
  },
});
const rounds = Number(values.rounds);
const BIN = fileURLToPath(new URL("../../trainer/bin/convnets.js", import.meta.url));
const ENGINE = ["--backend", "wasm", "--threads", "1"];
const work = mkdtempSync(join(tmpdir(), "convnets-sweep-speed-"));

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function run(args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, stdio: ["ignore", "ignore", "inherit"] });
    child.on("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`convnets ${args.join(" ")} exited with ${code}`)),
    );
  });
}

async function startRedis(): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--dir", work, "--save", "", "--appendonly", "yes"],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  await new Promise<void>((resolve) => {
    let log = "";
    child.stdout!.on("data", (chunk) => {
      log += chunk;
      if (log.includes("Ready to accept connections")) resolve();
    });
  });
  return { port, child };
}

/** Seconds each run of a runs directory trained (the wall time of its starts, run.json's `sessions`: data, estimate, epochs, checkpoints). */
function runSeconds(dir: string): number[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => {
      const run = JSON.parse(readFileSync(join(dir, e.name, "run.json"), "utf8")) as {
        sessions: { seconds?: number }[];
      };
      return run.sessions.reduce((sum, s) => sum + (s.seconds ?? 0), 0);
    });
}
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

async function main(): Promise<void> {
  const redis = await startRedis();
  const sequential: number[] = [];
  const queued: number[] = [];
  const load: number[] = [];
  // Per round, the runs' own training seconds added up: how much of the wall time the runs themselves took.
  const sequentialRunSeconds: number[] = [];
  const queuedRunSeconds: number[] = [];
  try {
    for (let round = 1; round <= rounds; round++) {
      // Seeds differ per round: every round's runs are new jobs and new run directories.
      const seeds = [0, 1, 2, 3].map((s) => 4 * round + s);
      const spec = join(work, `round-${round}.yaml`);
      writeFileSync(
        spec,
        `name: round-${round}\nnetworks: [lenet]\nseeds: [${seeds}]\nrecipe: { epochs: ${values.epochs}, limit: ${values.limit} }\n`,
      );
      load.push(loadavg()[0]!);

      let started = performance.now();
      await run(["sweep", spec, "--runs", join(work, `here-${round}`), ...ENGINE], work);
      sequential.push((performance.now() - started) / 1000);
      sequentialRunSeconds.push(sum(runSeconds(join(work, `here-${round}`))));

      const url = `redis://127.0.0.1:${redis.port}/${round}`;
      const queue = new Queue("convnets-runs", { connection: { host: "127.0.0.1", port: redis.port, db: round } });
      started = performance.now();
      await run(["sweep", spec, "--queue", url], work);
      const workers = spawn(
        process.execPath,
        [BIN, "worker", "--queue", url, "--runs", join(work, `queued-${round}`), "--concurrency", "2", ...ENGINE],
        {
          cwd: work,
          stdio: "ignore",
        },
      );
      while ((await queue.getJobCounts("completed")).completed < 4) await new Promise((r) => setTimeout(r, 100));
      queued.push((performance.now() - started) / 1000);
      queuedRunSeconds.push(sum(runSeconds(join(work, `queued-${round}`))));
      const failed = (await queue.getJobCounts("failed")).failed;
      if (failed) throw new Error(`${failed} runs failed on the queue`);
      workers.kill("SIGTERM");
      await new Promise((r) => workers.on("exit", r));
      await queue.close();
      load.push(loadavg()[0]!);
      console.error(
        `round ${round}: one after another ${sequential.at(-1)!.toFixed(1)} s (runs ${sequentialRunSeconds.at(-1)!.toFixed(1)} s), ` +
          `2 workers ${queued.at(-1)!.toFixed(1)} s (runs ${queuedRunSeconds.at(-1)!.toFixed(1)} s in all, on 2 workers)`,
      );
    }
  } finally {
    redis.child.kill("SIGTERM");
  }
  const flags =
    readFileSync("/proc/cpuinfo", "utf8")
      .match(/^flags\s*:\s*(.*)$/m)?.[1]
      ?.split(" ") ?? [];
  const simd = ["sse4_2", "avx", "avx2", "fma", "avx512f"].filter((f) => flags.includes(f));
  const seq = median(sequential);
  const par = median(queued);
  console.log(
    JSON.stringify(
      {
        sweep: `4 × lenet, ${values.epochs} epochs, ${values.limit} training and test images, wasm 1 thread per run`,
        rounds,
        oneAfterAnotherSeconds: sequential.map((s) => Number(s.toFixed(2))),
        twoWorkersSeconds: queued.map((s) => Number(s.toFixed(2))),
        medianOneAfterAnother: Number(seq.toFixed(2)),
        medianTwoWorkers: Number(par.toFixed(2)),
        ratio: Number((par / seq).toFixed(3)),
        // A run's seconds, summed over the 4: equal both ways on free cores; larger with 2 workers when they got less than a core each.
        runSecondsOneAfterAnother: sequentialRunSeconds.map((s) => Number(s.toFixed(1))),
        runSecondsTwoWorkers: queuedRunSeconds.map((s) => Number(s.toFixed(1))),
        loadAverage1min: load.map((l) => Number(l.toFixed(2))),
        cpu: `${cpus().length} × ${cpus()[0]?.model.trim()}`,
        cpuFlags: simd.join(" "),
        node: process.version,
      },
      null,
      2,
    ),
  );
  rmSync(work, { recursive: true, force: true });
}

await main();
