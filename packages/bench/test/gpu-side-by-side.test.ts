/**
 * The smoke test of `bench:gpu`'s side by side (issue 26), so that a lent GPU's minutes are not lost to a broken
 * command: LeNet at batch 8, one step, its GPU row on this machine's webgpu adapter (lavapipe in CI) with the
 * PyTorch columns on the CPU, and one CPU row at 1 thread, ours and PyTorch's. Reads back the table and the JSON.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, expect, it } from "vitest";

const PACKAGE_DIR = fileURLToPath(new URL("..", import.meta.url));
const TSX = join(PACKAGE_DIR, "node_modules", ".bin", "tsx");
const PYTHON = ["python3", "/usr/bin/python3"].find((p) => spawnSync(p, ["-c", "import torch"]).status === 0);

const tmp = { dir: mkdtempSync(join(tmpdir(), "convnets-bench-gpu-")) };
afterAll(() => rmSync(tmp.dir, { recursive: true, force: true }));

it(`runs LeNet's GPU row and a 1-thread CPU row${PYTHON ? " next to PyTorch" : " (no PyTorch here)"} and writes the table and JSON`, () => {
  const args = [
    join(PACKAGE_DIR, "src", "gpu.ts"),
    "--networks",
    "lenet",
    "--batch-size",
    "8",
    "--steps",
    "1",
    "--warmup",
    "0",
  ];
  args.push(
    "--cpu-networks",
    "lenet",
    "--threads",
    "1",
    "--cpu-batch-size",
    "8",
    "--cpu-steps",
    "1",
    "--cpu-warmup",
    "0",
  );
  args.push("--torch-device", "cpu", "--out", tmp.dir, ...(PYTHON ? ["--python", PYTHON] : ["--no-torch"]));
  const res = spawnSync(TSX, args, { cwd: PACKAGE_DIR, encoding: "utf8", timeout: 110_000 });
  expect(res.status, res.stderr).toBe(0);
  expect(res.stdout).toMatch(
    /network +input +batch +where +ours +ours ex\/s +PyTorch fp32 ex\/s +PyTorch default ex\/s +ours \/ fp32 +note/,
  );
  expect(res.stdout).toMatch(/\nlenet +28×28 +8 +GPU rows, PyTorch on CPU +/);
  expect(res.stdout).toMatch(/\nlenet +28×28 +8 +CPU, 1 thread +wasm \(simd, 1 thread\) +/);
  expect(res.stdout).toMatch(/CPU: \d+ × .* \(flags: /);
  const report = JSON.parse(readFileSync(join(tmp.dir, "bench-gpu.json"), "utf8"));
  expect(readFileSync(join(tmp.dir, "bench-gpu.md"), "utf8")).toContain("| lenet | 28×28 | 8 |");
  const [cpuRow] = report.cpuOurs;
  expect(cpuRow.error).toBeUndefined();
  expect(cpuRow.examplesPerSec).toBeGreaterThan(0);
  expect(cpuRow.stepMs).toHaveLength(1);
  // The webgpu row runs where Dawn finds an adapter; else it holds the reason.
  const [gpuRow] = report.gpuOurs;
  expect(gpuRow.examplesPerSec > 0 || typeof gpuRow.error === "string").toBe(true);
  if (PYTHON) {
    expect(report.gpuTorch.map((r: { precision: string }) => r.precision)).toEqual(["fp32", "default"]);
    for (const r of [...report.gpuTorch, ...report.cpuTorch])
      expect(r.examplesPerSec, JSON.stringify(r)).toBeGreaterThan(0);
    expect(report.cpuTorch[0].threads).toBe(1);
  }
});
