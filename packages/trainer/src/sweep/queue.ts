import { Redis } from "ioredis";
import { UsageError } from "../context.js";

/** The BullMQ queue every sweep's runs go on: a job is one run, its id the run's id. */
export const QUEUE_NAME = "convnets-runs";

/**
 * How long a worker's hold on a job lasts without renewal (it renews it every half of this). A worker
 * that dies (`kill -9`, a machine lost) stops renewing; after this time and the next stalled-job check,
 * another worker takes the job and resumes the run from its last checkpoint. CONVNETS_WORKER_LOCK_MS
 * shortens it (the tests do).
 */
export function lockTiming(): { lockDuration: number; stalledInterval: number } {
  const text = process.env.CONVNETS_WORKER_LOCK_MS;
  const ms = text ? Number(text) : 30_000;
  if (!Number.isInteger(ms) || ms < 1000) {
    throw new UsageError(
      `CONVNETS_WORKER_LOCK_MS=${text}: must be a whole number of milliseconds ≥ 1000 (default 30000)`,
    );
  }
  return { lockDuration: ms, stalledInterval: ms };
}

/**
 * How many times a run is handed to another worker after losing its worker. Worker loss is retried; a
 * run that throws (divergence, a recipe the network refuses) is not: it would throw again.
 */
export const MAX_WORKER_LOSSES = 5;

/** `--queue` or CONVNETS_QUEUE: `redis://HOST:PORT[/DB]` (user and password allowed: `redis://:secret@host:6379/0`). */
export function queueUrl(option: string | undefined): string | undefined {
  const url = option ?? process.env.CONVNETS_QUEUE;
  return url === "" ? undefined : url;
}

/** Where Redis is: the connection options BullMQ and ioredis take. */
export interface RedisAddress {
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  tls?: Record<string, never>;
}

/** The connection options of a queue URL; a malformed one is refused naming the form expected. */
export function redisOptions(url: string): RedisAddress {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw badUrl(url, "not a URL");
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:")
    throw badUrl(url, `the scheme is ${parsed.protocol}`);
  const db = parsed.pathname.replace(/^\//, "");
  if (db !== "" && !/^\d+$/.test(db)) throw badUrl(url, `the database "${db}" is not a number`);
  const port = parsed.port === "" ? 6379 : Number(parsed.port);
  return {
    host: parsed.hostname || "localhost",
    port,
    db: db === "" ? 0 : Number(db),
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(parsed.protocol === "rediss:" ? { tls: {} } : {}),
  };
}

function badUrl(url: string, why: string): UsageError {
  return new UsageError(`--queue ${url}: ${why}; give redis://HOST:PORT[/DB], e.g. redis://localhost:6379`);
}

/** A URL without its password, for messages. */
export function shownUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@");
}

/**
 * Checks that Redis answers at `url`, once, within a few seconds: an unreachable queue is one line naming
 * the URL and a non-zero exit, never a hang. Returns the options for BullMQ's own connections.
 */
export async function reachRedis(url: string): Promise<RedisAddress> {
  const options = redisOptions(url);
  const client = new Redis({
    ...options,
    lazyConnect: true,
    connectTimeout: 5000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  let cause: string | undefined;
  client.on("error", (err: Error) => {
    cause ??= err.message; // the socket's own error (ECONNREFUSED …), reported below
  });
  try {
    await client.connect();
    await client.ping();
  } catch (err) {
    throw new Error(
      `cannot reach Redis at ${shownUrl(url)} (${cause ?? (err as Error).message}); start it (redis-server) or give the right --queue / CONVNETS_QUEUE`,
    );
  } finally {
    client.disconnect();
  }
  return options;
}
