import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A localhost port nobody listens on (asked of the kernel, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * A redis-server of the test's own: a free localhost port, a temporary directory, append-only persistence
 * on (so a restart keeps the queue), stopped and removed by `stop`. Needs Debian's redis-server (or valkey).
 */
export class TestRedis {
  private process?: ChildProcess;
  readonly dir = mkdtempSync(join(tmpdir(), "convnets-redis-"));
  private constructor(readonly port: number) {}

  static async start(): Promise<TestRedis> {
    const redis = new TestRedis(await freePort());
    await redis.launch();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  private launch(): Promise<void> {
    const binary = process.env.REDIS_SERVER ?? "redis-server";
    const child = spawn(
      binary,
      [
        "--port",
        String(this.port),
        "--bind",
        "127.0.0.1",
        "--dir",
        this.dir,
        "--appendonly",
        "yes",
        "--save",
        "",
        "--daemonize",
        "no",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    this.process = child;
    return new Promise((resolve, reject) => {
      let log = "";
      const onData = (chunk: Buffer) => {
        log += chunk;
        if (log.includes("Ready to accept connections")) {
          child.stdout.off("data", onData);
          child.stdout.resume();
          resolve();
        }
      };
      child.stdout.on("data", onData);
      child.on("error", (err) =>
        reject(new Error(`cannot start ${binary} (apt-get install redis-server): ${err.message}`)),
      );
      child.on("exit", (code) => reject(new Error(`${binary} exited with ${code} before it was ready:\n${log}`)));
    });
  }

  /** Stops the server as `redis-cli shutdown` does (SIGTERM: the append-only file is flushed first). */
  async shutdown(): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once("exit", () => resolve());
      child.kill("SIGTERM");
    });
  }

  /** Starts it again on the same port and directory: what a restarted Redis with persistence looks like. */
  async restart(): Promise<void> {
    await this.shutdown();
    await this.launch();
  }

  async stop(): Promise<void> {
    await this.shutdown();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
