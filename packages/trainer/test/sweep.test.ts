import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { EpochMetrics } from "@convnets/core";
import { Queue } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CheckpointRecord, RunRecord } from "../src/run-dir.js";
import { QUEUE_NAME } from "../src/sweep/queue.js";
import { cli, PACKAGE_DIR, tempDir } from "./helpers.js";
import { freePort, TestRedis } from "./redis.js";

const BIN = join(PACKAGE_DIR, "bin", "convnets.js");
const REFUSES_INPUT = join(PACKAGE_DIR, "test", "fixtures", "refuses-input.js");
const ENGINE = ["--backend", "wasm", "--threads", "1"];
const EPOCHS = 5;
/** Four small LeNet runs (1,024 images, 5 epochs: a few seconds each), and one whose network refuses its input size. */
const SPEC = `name: four-lenets
networks: [lenet]
seeds: [0, 1, 2, 3]
recipe:
  epochs: ${EPOCHS}
  limit: 1024
runs:
  - { network: ${JSON.stringify(REFUSES_INPUT)}, input-size: 32, limit: 512 }
`;
const ids = [0, 1, 2, 3].map((seed) => `lenet-e${EPOCHS}-lr0.9-b256-in28-n1024-s${seed}`);
const FAILING = "fixed-head-e1-lr0.1-b128-in32-n512-s0";

const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, "utf8")) as T;
const history = (dir: string) => readJson<CheckpointRecord>(join(dir, "checkpoint.json")).history;
/** What a resumed run must reproduce exactly (speed and time differ from run to run). */
const learning = (h: EpochMetrics[]) =>
  h.map(({ epoch, loss, trainAcc, testAcc }) => ({ epoch, loss, trainAcc, testAcc }));

/** A `convnets worker` process; `out` is everything it printed so far. */
class WorkerProcess {
  out = "";
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  private watchers: { test: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  constructor(url: string, runs: string, cwd: string, lockMs: number) {
    this.child = spawn(process.execPath, [BIN, "worker", "--queue", url, "--runs", runs, ...ENGINE], {
      cwd,
      env: { ...process.env, CONVNETS_WORKER_LOCK_MS: String(lockMs) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const take = (chunk: Buffer) => {
      this.out += chunk;
      for (const w of [...this.watchers]) {
        const m = this.out.match(w.test);
        if (m) {
          this.watchers.splice(this.watchers.indexOf(w), 1);
          w.resolve(m);
        }
      }
    };
    this.child.stdout!.on("data", take);
    this.child.stderr!.on("data", take);
    this.exited = new Promise((resolve) => this.child.on("exit", (code) => resolve(code)));
  }
  /** Resolves when the output matches `test`. */
  waitFor(test: RegExp): Promise<RegExpMatchArray> {
    const m = this.out.match(test);
    return m ? Promise.resolve(m) : new Promise((resolve) => this.watchers.push({ test, resolve }));
  }
  stop(): void {
    if (this.child.exitCode === null) this.child.kill("SIGKILL");
  }
}

async function waitForCounts(
  queue: Queue,
  want: { completed: number; failed?: number },
  workers: WorkerProcess[],
  timeoutMs = 240_000,
) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const counts = await queue.getJobCounts("completed", "failed", "active", "waiting");
    if (counts.completed === want.completed && counts.failed === (want.failed ?? 0)) return counts;
    if (Date.now() > until) {
      throw new Error(
        `the queue did not finish: ${JSON.stringify(counts)}\n${workers.map((w) => w.out).join("\n----\n")}`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe("convnets sweep and convnets worker, with a real Redis", () => {
  const tmp = tempDir();
  let redis: TestRedis;
  let queue: Queue;
  const workers: WorkerProcess[] = [];
  const spec = join(tmp.dir, "four-lenets.yaml");

  beforeAll(async () => {
    redis = await TestRedis.start();
    queue = new Queue(QUEUE_NAME, { connection: { host: "127.0.0.1", port: redis.port } });
    writeFileSync(spec, SPEC);
  });
  afterAll(async () => {
    for (const w of workers) w.stop();
    await queue?.close();
    await redis?.stop();
    tmp.remove();
  });

  it("--dry-run lists the runs; the same runs written as JSON get the same ids", async () => {
    const res = await cli(["sweep", "four-lenets.yaml", "--dry-run"], { cwd: tmp.dir });
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
    expect(res.stdout).toContain("sweep four-lenets: 5 runs (dry run: nothing goes to runs)");
    for (const id of [...ids, FAILING]) expect(res.stdout).toContain(id);
    // An explicit run equal to a grid run (defaults written out) is the same run, listed once.
    const json = {
      name: "as-json",
      networks: ["lenet"],
      seeds: [0, 1, 2, 3],
      recipe: { epochs: EPOCHS, limit: 1024 },
      runs: [{ network: "lenet", seed: 0, epochs: EPOCHS, lr: 0.9, "batch-size": 256, limit: 1024 }],
    };
    writeFileSync(join(tmp.dir, "as-json.json"), JSON.stringify(json));
    const again = await cli(["sweep", "as-json.json", "--dry-run"], { cwd: tmp.dir });
    expect(again.stdout).toContain("4 runs");
    for (const id of ids) expect(again.stdout).toContain(id);
  });

  it("the embedded default trains the runs one after another; the failing one is reported and the sweep goes on", async () => {
    const res = await cli(["sweep", "four-lenets.yaml", "--runs", "here", ...ENGINE], { cwd: tmp.dir });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(
      `[5/5] ${FAILING} failed: fixed-head cannot be built for 32×32 input: fixed-head takes 28×28 images only, not 32×32; going on with the next run`,
    );
    expect(res.stderr).toContain(`1 of 5 runs failed: ${FAILING}`);
    for (const id of ids) {
      const run = readJson<RunRecord>(join(tmp.dir, "here", id, "run.json"));
      expect(run.status).toBe("complete");
      expect(history(join(tmp.dir, "here", id)).map((m) => m.epoch)).toEqual([1, 2, 3, 4, 5]);
    }
    expect(res.stdout).toMatch(
      /\| lenet \| 5 ep, lr 0\.9, batch 256, 28×28, 1,024 images \| 4 of 4 \| 0\.\d{3} \(0\.\d{3}–0\.\d{3}\) \|/,
    );
    // Again: the complete runs are kept as they are, nothing is trained twice.
    const again = await cli(["sweep", "four-lenets.yaml", "--runs", "here", ...ENGINE], { cwd: tmp.dir });
    expect(again.stdout.match(/is already complete/g)).toHaveLength(4);
  }, 300_000);

  it("refuses a bad spec before anything is enqueued, naming the entry", async () => {
    const cases: [string, string][] = [
      ["networks: [lenet, lenett]", 'bad.yaml: networks[1] (lenett with seed 0): unknown model "lenett"'],
      ["networks: []", "networks is an empty list: the grid would have no runs"],
      ["networks: [lenet]\nrecipe: { lr: [] }", "recipe.lr is an empty list"],
      [
        "runs:\n  - { network: lenet }\n  - { network: lenet, lr: -1 }",
        "bad.yaml: runs[1].lr: -1: must be a positive number",
      ],
      ["runs:\n  - { network: lenet, epochs: 0 }", "bad.yaml: runs[0].epochs: 0: must be a whole number ≥ 1"],
      ["networks: [lenet]\nrecipe: { input-size: 2 }", "input-size 2: lenet needs at least"],
      ["networks: [lenet]\nrecipe: { learning-rate: 0.1 }", 'recipe: unknown key "learning-rate"'],
      ["name: x", "the spec names no runs"],
      ["networks: [lenet\n", "not valid YAML"],
    ];
    for (const [text, message] of cases) {
      writeFileSync(join(tmp.dir, "bad.yaml"), text);
      const res = await cli(["sweep", "bad.yaml", "--queue", redis.url], { cwd: tmp.dir });
      expect(res.code, text).toBe(2);
      expect(res.stderr, text).toContain(message);
      expect(res.stderr.trim().split("\n"), text).toHaveLength(1);
    }
    expect(await queue.count()).toBe(0);
  });

  it("an unreachable Redis is one line naming the URL and a non-zero exit, without a hang", async () => {
    const url = `redis://127.0.0.1:${await freePort()}`;
    const started = Date.now();
    const res = await cli(["sweep", "four-lenets.yaml", "--queue", url], { cwd: tmp.dir });
    expect(res.code).toBe(1);
    expect(res.stderr.trim().split("\n")).toHaveLength(1);
    expect(res.stderr).toContain(`cannot reach Redis at ${url} (connect ECONNREFUSED`);
    const worker = await new Promise<{ code: number | null; err: string }>((resolve) => {
      const child = spawn(process.execPath, [BIN, "worker", "--queue", url, "--runs", "w"], {
        cwd: tmp.dir,
        stdio: ["ignore", "ignore", "pipe"],
      });
      let err = "";
      child.stderr.on("data", (c) => (err += c));
      child.on("exit", (code) => resolve({ code, err }));
    });
    expect(worker.code).toBe(1);
    expect(worker.err).toContain(`cannot reach Redis at ${url}`);
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it("two workers train the sweep; one killed with kill -9 mid-run: the other resumes that run from its checkpoint", async () => {
    const first = await cli(["sweep", "four-lenets.yaml", "--queue", redis.url], { cwd: tmp.dir });
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(`sweep four-lenets: 5 runs added to the queue at ${redis.url}`);
    const second = await cli(["sweep", "four-lenets.yaml", "--queue", redis.url], { cwd: tmp.dir });
    expect(second.stdout).toContain("0 runs added to the queue");
    expect(second.stdout).toContain("5 already there");
    expect(await queue.count()).toBe(5);

    // A lock of 5 s (BullMQ's default is 30 s): a killed worker's run is taken over within about 10 s.
    const a = new WorkerProcess(redis.url, "shared", tmp.dir, 5000);
    const b = new WorkerProcess(redis.url, "shared", tmp.dir, 5000);
    workers.push(a, b);
    expect((await a.waitFor(/^worker \S+: engine (.+); queue/m))[1]).toBe("wasm (simd, 1 thread)");
    const [, killed] = await a.waitFor(/^\[(lenet-\S+)\] epoch 1\/5 /m);
    a.child.kill("SIGKILL");
    expect(await a.exited).toBe(null);
    const dir = join(tmp.dir, "shared", killed!);
    expect(readJson<RunRecord>(join(dir, "run.json")).status).toBe("running"); // killed in the middle of the run

    await waitForCounts(queue, { completed: 4, failed: 1 }, [a, b]);
    // The killed run: continued on the other worker from its checkpoint, no epoch missing or repeated.
    const resumedAt = Number(
      b.out.match(new RegExp(`^\\[${killed}\\] resuming \\S+ after epoch (\\d+) of 5`, "m"))?.[1],
    );
    expect(resumedAt).toBeGreaterThanOrEqual(1);
    const run = readJson<RunRecord>(join(dir, "run.json"));
    expect(run.status).toBe("complete");
    expect(run.sessions.map((s) => s.fromEpoch)).toEqual([0, resumedAt]);
    expect(history(dir).map((m) => m.epoch)).toEqual([1, 2, 3, 4, 5]);
    // The dead worker's claim on the run directory (run.lock) was taken over, and no lock is left.
    expect(b.out).toMatch(
      new RegExp(`^\\[${killed}\\] note: took over \\S+run\\.lock from process \\d+, which is no longer running`, "m"),
    );
    for (const id of ids) expect(existsSync(join(tmp.dir, "shared", id, "run.lock")), id).toBe(false);
    // Every run, the killed one included, ends exactly as the uninterrupted run of the embedded default did.
    for (const id of ids) {
      expect(learning(history(join(tmp.dir, "shared", id))), id).toEqual(learning(history(join(tmp.dir, "here", id))));
    }
    // The run that throws failed once, with its reason, and was not retried.
    const failed = (await queue.getJob(FAILING))!;
    expect(await failed.getState()).toBe("failed");
    expect(failed.attemptsMade).toBeLessThanOrEqual(1);
    expect(failed.failedReason).toBe(
      "failed: fixed-head cannot be built for 32×32 input: fixed-head takes 28×28 images only, not 32×32",
    );

    const status = await cli(["sweep", "status", "--queue", redis.url], { cwd: tmp.dir });
    expect(status.stdout).toContain("5 runs: 0 waiting, 0 active, 4 done, 1 failed");
    expect(status.stdout).toMatch(
      new RegExp(`${ids[0]}\\s+done\\s+test acc 0\\.\\d{3}, loss \\d\\.\\d{3}, .+ on wasm \\(simd, 1 thread\\)`),
    );
    expect(status.stdout).toMatch(new RegExp(`${FAILING}\\s+failed\\s+failed: fixed-head cannot be built`));

    // The results table: one row over the four seeds, its mean and range those of the runs.
    const results = await cli(["sweep", "results", "four-lenets.yaml", "--runs", "shared"], { cwd: tmp.dir });
    expect(results.code).toBe(0);
    const accs = ids.map((id) => history(join(tmp.dir, "shared", id)).at(-1)!.testAcc);
    const mean = accs.reduce((s, x) => s + x, 0) / accs.length;
    expect(results.stdout).toContain(
      `| lenet | 5 ep, lr 0.9, batch 256, 28×28, 1,024 images | 4 of 4 | ${mean.toFixed(3)} (${Math.min(...accs).toFixed(3)}–${Math.max(...accs).toFixed(3)}) |`,
    );
    expect(results.stdout).toContain(`${FAILING}: no run directory`);
    const csv = readFileSync(join(tmp.dir, "shared", "four-lenets.csv"), "utf8")
      .trim()
      .split("\n");
    expect(csv[0]).toBe(
      "network,epochs,lr,batch_size,input_size,limit,seeds,complete,test_acc_mean,test_acc_min,test_acc_max,final_loss,examples_per_sec,wall_seconds,engine",
    );
    const row = csv.find((l) => l.startsWith("lenet,"))!.split(",");
    expect(row.slice(0, 8)).toEqual(["lenet", "5", "0.9", "256", "28", "1024", "0 1 2 3", "4"]);
    expect(Number(row[8])).toBeCloseTo(mean, 12);
    const chart = readJson<{ data: { values: { seed: number; testAcc: number }[] } }>(
      join(tmp.dir, "shared", "four-lenets.vl.json"),
    );
    expect(chart.data.values.map((v) => v.testAcc)).toEqual(accs);

    b.child.kill("SIGTERM");
    expect(await b.exited).toBe(0);
  }, 300_000);

  it("a worker stopped by SIGTERM hands its run back; Redis restarted mid-sweep loses no run and finishes none twice", async () => {
    // Database 1 of the same server: this sweep's queue is its own.
    const url1 = `${redis.url}/1`;
    const queue1 = new Queue(QUEUE_NAME, { connection: { host: "127.0.0.1", port: redis.port, db: 1 } });
    writeFileSync(
      join(tmp.dir, "more.yaml"),
      `networks: [lenet]\nseeds: [4, 5, 6, 7]\nrecipe: { epochs: ${EPOCHS}, limit: 1024 }\n`,
    );
    const more = [4, 5, 6, 7].map((seed) => `lenet-e${EPOCHS}-lr0.9-b256-in28-n1024-s${seed}`);
    expect((await cli(["sweep", "more.yaml", "--queue", url1], { cwd: tmp.dir })).code).toBe(0);

    const c = new WorkerProcess(url1, "more", tmp.dir, 5000);
    workers.push(c);
    const [, handed] = await c.waitFor(/^\[(lenet-\S+)\] epoch 1\/5 /m);
    c.child.kill("SIGTERM");
    expect(await c.exited).toBe(0);
    expect(c.out).toMatch(
      new RegExp(`^\\[${handed}\\] back on the queue after epoch [1-4], for any worker to resume`, "m"),
    );
    expect(await (await queue1.getJob(handed!))!.getState()).toBe("waiting");

    const d = new WorkerProcess(url1, "more", tmp.dir, 5000);
    const e = new WorkerProcess(url1, "more", tmp.dir, 5000);
    workers.push(d, e);
    await d.waitFor(/^\[lenet-\S+\] epoch 2\/5 /m);
    await redis.restart();
    await waitForCounts(queue1, { completed: 4 }, [d, e]);
    for (const id of more) {
      const dir = join(tmp.dir, "more", id);
      const run = readJson<RunRecord>(join(dir, "run.json"));
      expect(run.status, id).toBe("complete");
      expect(
        run.sessions.filter((s) => s.status === "complete"),
        id,
      ).toHaveLength(1);
      expect(
        history(dir).map((m) => m.epoch),
        id,
      ).toEqual([1, 2, 3, 4, 5]);
      expect(`${d.out}${e.out}`.match(new RegExp(`^\\[${id}\\] done:`, "gm")), id).toHaveLength(1);
      expect(existsSync(join(dir, "model", "model.json"))).toBe(true);
    }
    // The run handed back was resumed, not started over.
    expect(
      readJson<RunRecord>(join(tmp.dir, "more", handed!, "run.json")).sessions[1]!.fromEpoch,
    ).toBeGreaterThanOrEqual(1);
    d.child.kill("SIGTERM");
    e.child.kill("SIGTERM");
    expect(await d.exited).toBe(0);
    expect(await e.exited).toBe(0);
    await queue1.close();
  }, 300_000);

  it("a run directory held by a worker on another machine: taken over when that worker lost the job, else retried later", async () => {
    const url2 = `${redis.url}/2`;
    const queue2 = new Queue(QUEUE_NAME, { connection: { host: "127.0.0.1", port: redis.port, db: 2 } });
    writeFileSync(
      join(tmp.dir, "remote.yaml"),
      "networks: [lenet]\nseeds: [8, 9]\nrecipe: { epochs: 2, limit: 512 }\n",
    );
    expect((await cli(["sweep", "remote.yaml", "--queue", url2], { cwd: tmp.dir })).code).toBe(0);
    const [lost, held] = [8, 9].map((seed) => `lenet-e2-lr0.9-b256-in28-n512-s${seed}`);
    // Both directories hold a lock of a process on another host; the first job was last run by that process.
    const since = new Date().toISOString();
    const lock = (host: string) => JSON.stringify({ pid: 4242, host, since, token: `${host}-token` });
    for (const [id, host] of [
      [lost, "lost-machine"],
      [held, "busy-machine"],
    ] as const) {
      mkdirSync(join(tmp.dir, "remote", id!), { recursive: true });
      writeFileSync(join(tmp.dir, "remote", id!, "run.lock"), lock(host));
    }
    await (await queue2.getJob(lost!))!.updateProgress({
      worker: "lost-machine:4242",
      engine: "wasm",
      epoch: 0,
      epochs: 2,
    });

    const w = new WorkerProcess(url2, "remote", tmp.dir, 5000);
    workers.push(w);
    await w.waitFor(new RegExp(`^\\[${lost}\\] done:`, "m"));
    expect(w.out).toContain(
      `[${lost}] note: took over run.lock from lost-machine:4242, which lost this run (BullMQ found it stalled)`,
    );
    expect(readJson<RunRecord>(join(tmp.dir, "remote", lost!, "run.json")).status).toBe("complete");
    await w.waitFor(
      new RegExp(`^\\[${held}\\] .*is being written by process 4242 on busy-machine.*Trying again in 5\\.0 s\\.`, "m"),
    );
    // The worker says so just before BullMQ moves the job: wait for the move (well inside the 5 s delay).
    const heldJob = (await queue2.getJob(held!))!;
    let state = await heldJob.getState();
    for (let tries = 0; state === "active" && tries < 40; tries++) {
      await new Promise((r) => setTimeout(r, 50));
      state = await heldJob.getState();
    }
    expect(state).toBe("delayed");
    expect(readFileSync(join(tmp.dir, "remote", held!, "run.lock"), "utf8")).toBe(lock("busy-machine"));
    w.child.kill("SIGTERM");
    expect(await w.exited).toBe(0);
    await queue2.close();
  }, 120_000);
});
