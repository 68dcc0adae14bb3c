/**
 * bench:gpu — the GPU side by side, and where a webgpu training step's time goes.
 *
 *   pnpm --filter @convnets/bench bench:gpu --profile NETWORK [--batch-size B] [--input-size S] [--steps N]
 *       [--profile-steps N] [--calls N] [--json FILE]
 *
 * prints one training step on webgpu kernel by kernel (webgpu-profile.ts): GPU time per kernel from timestamp
 * queries, its share, the FLOP/s of convolutions and matrix products, and what the host asks of Dawn per step.
 * With CONVNETS_DAWN_BACKEND=null it times the host alone (Dawn's null adapter runs no GPU work; its memory
 * holds ResNet-18 at 32×32 batch 32, not at the recipe's 96×96 batch 256).
 *
 *   pnpm --filter @convnets/bench bench:gpu [--networks a,b] [--steps N] [--warmup W] [--batch-size B --input-size S]
 *       [--cpu-networks a,b] [--threads 1,2,4,8,all] [--cpu-batch-size B] [--cpu-input-size S] [--cpu-steps N] [--cpu-warmup W]
 *       [--torch-device cuda|cpu] [--no-torch] [--no-cpu] [--python PATH] [--out DIR] [--data-dir DIR] [--timeout S]
 *       [--deadline S]
 *
 * runs every network at its recipe's input and batch on webgpu and on PyTorch (python/step_rate.py, our
 * peer), in float32 and with PyTorch's defaults (TF32 convolutions), and, for the host CPU, our wasm engine at
 * each thread count next to PyTorch at the same count (ResNet-18 and DenseNet at 96×96, batch 32 by default:
 * a recipe batch of 256 takes ~20 s a step on one core). Each measurement is a child process; examples/sec is
 * the batch over the median step (forward, backward, SGD update, loss read back) after the warm-up steps.
 * Prints one table headed by the GPU, its driver, the CPU's model and flags, and writes it with the JSON
 * under --out (default runs/bench-gpu-<time>/).
 *
 * Needs `webgpu` and, on Linux, a Vulkan driver (NVIDIA's ships its ICD; the loader is libvulkan1); PyTorch with
 * CUDA for the PyTorch GPU columns (--torch-device cpu puts them on the CPU, for a dry run without a GPU).
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { formatTable, markdownTable } from "@convnets/trainer";
import { NETWORK_NAMES } from "./networks.js";
import { callerDir, positiveInt } from "./options.js";
import { formatProfile, profileWebgpuStep } from "./webgpu-profile.js";

const { values } = parseArgs({
  options: {
    profile: { type: "string" },
    "profile-steps": { type: "string" },
    calls: { type: "string" },
    json: { type: "string" },
    networks: { type: "string" },
    steps: { type: "string" },
    warmup: { type: "string", default: "2" },
    "cpu-steps": { type: "string", default: "3" },
    "cpu-warmup": { type: "string", default: "1" },
    "batch-size": { type: "string" },
    "input-size": { type: "string" },
    "cpu-networks": { type: "string", default: "resnet18,densenet" },
    threads: { type: "string", default: "1,2,4,8,all" },
    "cpu-batch-size": { type: "string", default: "32" },
    "cpu-input-size": { type: "string" },
    "torch-device": { type: "string", default: "cuda" },
    "no-torch": { type: "boolean", default: false },
    "no-cpu": { type: "boolean", default: false },
    python: { type: "string" },
    out: { type: "string" },
    "data-dir": { type: "string" },
    timeout: { type: "string", default: "240" },
    deadline: { type: "string" },
  },
});

const dataDir = values["data-dir"] ? resolve(callerDir, values["data-dir"]) : undefined;

if (values.profile !== undefined) {
  const profile = await profileWebgpuStep({
    network: values.profile,
    batchSize: positiveInt("batch-size", values["batch-size"]),
    inputSize: positiveInt("input-size", values["input-size"]),
    steps: positiveInt("steps", values.steps),
    profileSteps: positiveInt("profile-steps", values["profile-steps"]),
    dataDir,
  }).catch((err: Error) => {
    console.error(`bench:gpu --profile: ${err.message}`);
    process.exit(1);
  });
  console.log(formatProfile(profile, { calls: positiveInt("calls", values.calls) }));
  if (values.json) writeAtomically(resolve(callerDir, values.json), `${JSON.stringify(profile, null, 2)}\n`);
  process.exit(0);
}

function writeAtomically(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

// ---- side by side ----------------------------------------------------------------------------------------

const list = (text: string | undefined, all: readonly string[]) => {
  const items = text?.split(",").filter(Boolean) ?? [...all];
  for (const n of items)
    if (!NETWORK_NAMES.includes(n))
      throw new Error(`unknown network "${n}"; use one or more of ${NETWORK_NAMES.join(", ")}`);
  return items;
};
const networks = list(values.networks, NETWORK_NAMES);
const cpuNetworks = values["no-cpu"] ? [] : list(values["cpu-networks"], NETWORK_NAMES);
const threadCounts = values.threads.split(",").map((t) => (t === "all" ? "all" : String(positiveInt("threads", t))));
const steps = positiveInt("steps", values.steps) ?? 5;
const warmup = Number(values.warmup);
const cpuSteps = positiveInt("cpu-steps", values["cpu-steps"])!;
const cpuWarmup = Number(values["cpu-warmup"]);
const timeoutMs = 1000 * positiveInt("timeout", values.timeout)!;
/** Seconds after which no further measurement starts (its row says so), so a capped run still writes its table. */
const deadlineS = positiveInt("deadline", values.deadline);
const torchDevice = values["torch-device"];
if (torchDevice !== "cuda" && torchDevice !== "cpu") throw new Error(`--torch-device ${torchDevice}: use cuda or cpu`);
const out = resolve(
  callerDir,
  values.out ?? join("runs", `bench-gpu-${new Date().toISOString().replace(/[:.]/g, "-")}`),
);
mkdirSync(out, { recursive: true });
const started = performance.now();
const gpuSizes = [
  ...(values["batch-size"] ? ["--batch-size", values["batch-size"]] : []),
  ...(values["input-size"] ? ["--input-size", values["input-size"]] : []),
];
const cpuSizes = [
  "--batch-size",
  values["cpu-batch-size"],
  ...(values["cpu-input-size"] ? ["--input-size", values["cpu-input-size"]] : []),
];
const tsx = join(import.meta.dirname, "..", "node_modules", ".bin", "tsx");
const stepRateTs = join(import.meta.dirname, "step-rate.ts");
const stepRatePy = join(import.meta.dirname, "..", "python", "step_rate.py");

/** Runs a child, echoing its stderr, and returns its stdout's JSON lines (a timeout or crash becomes an error line). */
function jsonLines(command: string, args: string[], what: string): Promise<Record<string, unknown>[]> {
  return new Promise((done) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], env: process.env });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const lines = stdout
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      if (lines.length === 0) {
        const why = signal
          ? `killed (${signal}${signal === "SIGKILL" ? `, over --timeout ${timeoutMs / 1000} s` : ""})`
          : `exit ${code}`;
        const tail = stderr
          .trim()
          .split("\n")
          .filter((l) => !/artificially reduced/.test(l))
          .slice(-3)
          .join(" | ");
        lines.push({ error: `${what}: ${why}${tail ? `: ${tail}` : ""}` });
      }
      done(lines);
    });
  });
}

function log(text: string): void {
  console.error(`[${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${text}`);
}

/** Steps and warm-up steps of a row: the GPU rows' (--steps, --warmup) or the CPU rows' (--cpu-steps, --cpu-warmup). */
const timing = (cpu: boolean) => [
  "--steps",
  String(cpu ? cpuSteps : steps),
  "--warmup",
  String(cpu ? cpuWarmup : warmup),
];

const pastDeadline = () => deadlineS !== undefined && performance.now() - started > 1000 * deadlineS;
const SKIPPED = `skipped: past --deadline ${values.deadline} s`;

async function ours(
  network: string,
  backend: string,
  sizes: string[],
  threads?: string,
): Promise<Record<string, unknown>> {
  if (pastDeadline()) return { network, backend, ...(threads ? { threadsAsked: threads } : {}), error: SKIPPED };
  log(`ours ${network} on ${backend}${threads ? ` at ${threads} threads` : ""}…`);
  const args = [stepRateTs, network, "--backend", backend, ...timing(backend === "wasm"), ...sizes];
  if (threads) args.push("--threads", threads);
  if (dataDir) args.push("--data-dir", dataDir);
  const [line] = await jsonLines(tsx, args, `ours ${network} ${backend}`);
  return { network, backend, ...(threads ? { threadsAsked: threads } : {}), ...line };
}

function findPython(): string | undefined {
  const candidates = values.python
    ? [values.python]
    : process.env.PYTHON
      ? [process.env.PYTHON]
      : ["python3", "/usr/bin/python3"];
  for (const python of candidates) {
    try {
      execFileSync(python, ["-c", "import torch"], { stdio: "ignore", timeout: 60_000 });
      return python;
    } catch {}
  }
  console.error(`PyTorch side skipped: no Python with torch among ${candidates.join(", ")} (give one with --python)`);
  return undefined;
}

async function pytorch(
  python: string,
  nets: string[],
  device: string,
  cpuRows: boolean,
  extra: string[],
): Promise<Record<string, unknown>[]> {
  if (pastDeadline()) return [{ error: SKIPPED }];
  log(`PyTorch ${nets.join(",")} on ${device} ${extra.join(" ")}…`);
  const args = [stepRatePy, nets.join(","), "--device", device, ...timing(cpuRows), ...extra];
  if (dataDir) args.push("--data", dataDir);
  return jsonLines(python, args, `PyTorch ${device}`);
}

function machine() {
  const cpuinfo = (() => {
    try {
      return readFileSync("/proc/cpuinfo", "utf8");
    } catch {
      return "";
    }
  })();
  const model = /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1]?.trim() ?? "unknown CPU";
  const flags = (/flags\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? "").split(" ");
  const notable = ["sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile"].filter((f) =>
    flags.includes(f),
  );
  let gpu = "no NVIDIA GPU (nvidia-smi not found)";
  try {
    gpu = execFileSync("nvidia-smi", ["--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"], {
      encoding: "utf8",
      timeout: 10_000,
    })
      .trim()
      .split("\n")
      .map((l) => {
        const [name, driver, memory] = l.split(",").map((s) => s.trim());
        return `${name}, driver ${driver}, ${memory}`;
      })
      .join("; ");
  } catch {}
  return { gpu, cpu: model, cpuFlags: notable, cores: availableParallelism(), node: process.version };
}

const info = machine();
log(
  `GPU: ${info.gpu}; CPU: ${info.cores} × ${info.cpu} (${info.cpuFlags.join(" ")}); load ${loadavg()[0]!.toFixed(2)}`,
);
const python = values["no-torch"] ? undefined : findPython();

type Row = Record<string, unknown>;
const rate = (r: Row | undefined) =>
  r && typeof r.examplesPerSec === "number" && r.examplesPerSec > 0 ? r.examplesPerSec : undefined;
const fmt = (x: number | undefined) => (x === undefined ? "—" : x >= 100 ? x.toFixed(0) : x.toPrecision(3));
const ratio = (a: number | undefined, b: number | undefined) =>
  a !== undefined && b !== undefined ? `${(a / b).toFixed(2)}` : "—";
const errorOf = (...rows: (Row | undefined)[]) =>
  rows
    .map((r) => r?.error)
    .filter(Boolean)
    .join("; ");

function save(): { table: string; lines: string[] } {
  const header = [
    "network",
    "input",
    "batch",
    "where",
    "ours",
    "ours ex/s",
    "PyTorch fp32 ex/s",
    "PyTorch default ex/s",
    "ours / fp32",
    "note",
  ];
  const rows: string[][] = [];
  for (const o of gpuOurs as Row[]) {
    const fp32 = gpuTorch.find((t) => t.network === o.network && t.precision === "fp32");
    const dflt = gpuTorch.find((t) => t.network === o.network && t.precision === "default");
    rows.push([
      String(o.network),
      `${o.inputSize ?? "?"}×${o.inputSize ?? "?"}`,
      String(o.batchSize ?? "?"),
      torchDevice === "cuda" ? "GPU" : "GPU rows, PyTorch on CPU",
      String(o.engine ?? "webgpu"),
      fmt(rate(o)),
      fmt(rate(fp32)),
      fmt(rate(dflt)),
      ratio(rate(o), rate(fp32)),
      errorOf(o, fp32, dflt),
    ]);
  }
  for (const o of cpuOurs as Row[]) {
    const threads = o.threadsAsked === "all" ? info.cores : Number(o.threadsAsked);
    const t = cpuTorch.find((r) => r.network === o.network && r.threads === threads);
    rows.push([
      String(o.network),
      `${o.inputSize ?? "?"}×${o.inputSize ?? "?"}`,
      String(o.batchSize ?? "?"),
      `CPU, ${o.threadsAsked === "all" ? `all ${info.cores}` : threads} thread${threads === 1 ? "" : "s"}`,
      String(o.engine ?? "wasm"),
      fmt(rate(o)),
      fmt(rate(t)),
      "",
      ratio(rate(o), rate(t)),
      [errorOf(o, t), ...((o.notes as string[] | undefined) ?? [])].filter(Boolean).join("; "),
    ]);
  }
  const torchVersion = [...gpuTorch, ...cpuTorch].find((t) => t.torch)?.torch ?? "not run";
  const adapter = (gpuOurs as Row[]).find((o) => o.engine)?.engine ?? "webgpu not run";
  const lines = [
    `GPU: ${info.gpu}. webgpu adapter: ${adapter}. CPU: ${info.cores} × ${info.cpu} (flags: ${info.cpuFlags.join(" ")}). Node ${info.node}, PyTorch ${torchVersion}.`,
    `Examples/sec = batch / median step (forward, backward, SGD, loss read back): GPU rows ${steps} steps after ${warmup} warm-up, CPU rows ${cpuSteps} after ${cpuWarmup}; ` +
      `PyTorch fp32: TF32 off; PyTorch default: its defaults (cuDNN TF32 on, matmul float32). CPU rows: ours on wasm, PyTorch at the same thread count. ` +
      `1-minute load at the end: ${loadavg()[0]!.toFixed(2)}; took ${((performance.now() - started) / 1000).toFixed(0)} s.`,
  ];
  const report = {
    date: new Date().toISOString(),
    machine: info,
    steps,
    warmup,
    cpuSteps,
    cpuWarmup,
    torchDevice,
    gpuOurs,
    gpuTorch,
    cpuOurs,
    cpuTorch,
  };
  writeAtomically(join(out, "bench-gpu.json"), `${JSON.stringify(report, null, 2)}\n`);
  const aligns = ["left", "right", "right", "left", "left", "right", "right", "right", "right", "left"] as const;
  writeAtomically(join(out, "bench-gpu.md"), `${markdownTable(header, rows, [...aligns])}\n\n${lines.join("\n")}\n`);
  return { table: formatTable(header, rows, [...aligns]), lines };
}

// GPU rows: each network on webgpu (one process each), then PyTorch (one process: fp32 and defaults). CPU rows:
// ours on wasm at each thread count (a process each), PyTorch at the same counts (one process). The table and
// JSON are written after every measurement, so that a run stopped early keeps what it measured.
const gpuOurs: Record<string, unknown>[] = [];
let gpuTorch: Record<string, unknown>[] = [];
const cpuOurs: Record<string, unknown>[] = [];
let cpuTorch: Record<string, unknown>[] = [];
for (const network of networks) {
  gpuOurs.push(await ours(network, "webgpu", gpuSizes));
  save();
}
if (python)
  gpuTorch = await pytorch(python, networks, torchDevice, false, ["--precision", "fp32,default", ...gpuSizes]);
save();
for (const network of cpuNetworks) {
  for (const t of threadCounts) {
    cpuOurs.push(await ours(network, "wasm", cpuSizes, t));
    save();
  }
}
const torchThreads = threadCounts.map((t) => (t === "all" ? String(info.cores) : t)).join(",");
if (python && cpuNetworks.length)
  cpuTorch = await pytorch(python, cpuNetworks, "cpu", true, ["--threads", torchThreads, ...cpuSizes]);
const { table, lines } = save();
console.log(table);
console.log(lines.join("\n"));
console.log(`JSON and Markdown: ${out}`);
