import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { main } from "../src/cli.js";
import type { CliContext } from "../src/context.js";

export const PACKAGE_DIR = fileURLToPath(new URL("..", import.meta.url));
export const EXAMPLE_MODEL = join(PACKAGE_DIR, "examples", "my-model.js");
export const FUNCTION_MODEL = join(PACKAGE_DIR, "test", "fixtures", "tiny-function.js");

/** A writable that keeps what is written; `onWrite` lets a test react to output (e.g. interrupt a run). */
export class Capture extends Writable {
  text = "";
  isTTY: boolean;
  columns = 100;
  constructor(
    tty = false,
    private readonly onWrite?: (chunk: string, all: string) => void,
  ) {
    super();
    this.isTTY = tty;
  }
  override _write(chunk: Buffer | string, _encoding: BufferEncoding, done: () => void): void {
    const s = chunk.toString();
    this.text += s;
    this.onWrite?.(s, this.text);
    done();
  }
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `convnets …` in-process (no SIGINT handler), from `cwd`. */
export async function cli(
  argv: string[],
  options: { cwd: string; tty?: boolean; signal?: AbortSignal; onStdout?: (chunk: string, all: string) => void },
): Promise<CliRun> {
  const stdout = new Capture(options.tty ?? false, options.onStdout);
  const stderr = new Capture(false);
  const ctx: CliContext = { stdout, stderr, cwd: options.cwd, signal: options.signal, handleSigint: false };
  const code = await main(argv, ctx);
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/** A fresh temporary directory, removed by the returned function. */
export function tempDir(prefix = "convnets-trainer-"): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Checks that an XML document is well formed: every tag closed, in order, attributes quoted. */
export function assertWellFormedXml(xml: string): void {
  const stack: string[] = [];
  const tag =
    /<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>|<!--[\s\S]*?-->|<\?[\s\S]*?\?>/g;
  let last = 0;
  for (let m = tag.exec(xml); m; m = tag.exec(xml)) {
    const between = xml.slice(last, m.index);
    if (between.includes("<"))
      throw new Error(`malformed markup near: ${between.slice(between.indexOf("<"), between.indexOf("<") + 60)}`);
    if (/&(?!(amp|lt|gt|quot|apos|#\d+|#x[0-9a-f]+);)/i.test(between))
      throw new Error(`bad entity in text: ${between.slice(0, 60)}`);
    last = tag.lastIndex;
    const [, closing, name, , selfClosing] = m;
    if (!name) continue; // comment or processing instruction
    if (closing) {
      const open = stack.pop();
      if (open !== name) throw new Error(`</${name}> closes <${open}>`);
    } else if (!selfClosing) {
      stack.push(name);
    }
  }
  if (xml.slice(last).trim() !== "") throw new Error("text after the root element");
  if (stack.length > 0) throw new Error(`unclosed elements: ${stack.join(", ")}`);
}

/**
 * `stderr` without the engine's note that auto passed a software webgpu adapter over (on a machine with `webgpu`
 * installed and only lavapipe, as CI): expected output, one line, that tests asserting "nothing on stderr" allow.
 */
export function withoutSoftwareAdapterNote(stderr: string): string {
  return stderr.replace(/^note: webgpu: passed over .+, a software adapter: .*\n/m, "");
}

export const BIN = join(PACKAGE_DIR, "bin", "convnets.js");

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  pid: number;
}

/**
 * Runs the real command in a child process, on the wasm engine with one thread (several run at once on few
 * cores); `onStdout` sees the output so far and may signal the process.
 */
export function convnetsProcess(
  args: string[],
  options: {
    cwd: string;
    env?: Record<string, string>;
    onStdout?: (all: string, kill: (s: NodeJS.Signals) => void) => void;
    onStderr?: (all: string, kill: (s: NodeJS.Signals) => void) => void;
  },
): Promise<ProcessExit> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: options.cwd,
      env: { ...process.env, CONVNETS_BACKEND: "wasm", CONVNETS_THREADS: "1", ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
      options.onStdout?.(stdout, (signal) => child.kill(signal));
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
      options.onStderr?.(stderr, (signal) => child.kill(signal));
    });
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr, pid: child.pid! }));
  });
}

/**
 * Mounts a tmpfs of `size` (e.g. "400k") on `dir` where this process may (root on Linux); false elsewhere, where
 * the tests simulate the same errors with CONVNETS_TEST_FS_FAULT (CONVNETS_TEST_NO_MOUNT=1 forces that).
 */
export function mountTmpfs(dir: string, size: string): boolean {
  if (process.platform !== "linux" || process.getuid?.() !== 0 || process.env.CONVNETS_TEST_NO_MOUNT) return false;
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

export function remount(dir: string, options: string): void {
  execFileSync("mount", ["-o", `remount,${options}`, dir], { stdio: "ignore" });
}

export function unmount(dir: string): void {
  try {
    execFileSync("umount", [dir], { stdio: "ignore" });
  } catch {}
}
