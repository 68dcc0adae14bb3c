/**
 * The smoke test of `bench:gpu --profile` (issue 26): one LeNet training step at batch 8 profiled on this
 * machine's webgpu adapter (lavapipe in CI) and on Dawn's null adapter, checked for the table's structure and
 * for counts that agree with each other and with the shapes. Skipped, saying why, where Dawn finds no adapter.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { kernelFlops } from "../src/flops.js";
import type { WebgpuProfile } from "../src/webgpu-profile.js";

const PACKAGE_DIR = fileURLToPath(new URL("..", import.meta.url));
const TSX = join(PACKAGE_DIR, "node_modules", ".bin", "tsx");

/** Whether Dawn finds an adapter here (asked in a child: a crashing driver takes only it down). */
function adapterHere(): string | undefined {
  const script =
    "const { create } = await import('webgpu'); const a = await create([]).requestAdapter(); console.log(a ? a.info.description || a.info.vendor || 'adapter' : '');";
  const res = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
    cwd: PACKAGE_DIR,
    encoding: "utf8",
    timeout: 60_000,
  });
  return res.status === 0 && res.stdout.trim() ? res.stdout.trim() : undefined;
}
const adapter = adapterHere();
if (!adapter)
  console.warn(
    "webgpu profile tests skipped: Dawn finds no adapter here (on Linux, install a Vulkan driver: lavapipe from mesa-vulkan-drivers ≥ 25, see scripts/prepare-test-machine.sh)",
  );

const tmp = { dir: mkdtempSync(join(tmpdir(), "convnets-gpu-profile-")) };
afterAll(() => rmSync(tmp.dir, { recursive: true, force: true }));

function profile(name: string, env: Record<string, string> = {}): { stdout: string; json: WebgpuProfile } {
  const json = join(tmp.dir, `${name}.json`);
  const args = [
    join(PACKAGE_DIR, "src", "gpu.ts"),
    "--profile",
    "lenet",
    "--batch-size",
    "8",
    "--steps",
    "3",
    "--profile-steps",
    "1",
    "--calls",
    "3",
    "--json",
    json,
  ];
  const res = spawnSync(TSX, args, {
    cwd: PACKAGE_DIR,
    encoding: "utf8",
    timeout: 110_000,
    env: { ...process.env, ...env },
  });
  expect(res.status, res.stderr).toBe(0);
  return { stdout: res.stdout, json: JSON.parse(readFileSync(json, "utf8")) as WebgpuProfile };
}

// LeNet at batch 8: conv1 5×5×1→6 on 28×28 (padding 2), conv2 5×5×6→16 on 14×14 → 10×10.
const CONV_FORWARD_FLOPS = 2 * 8 * 28 * 28 * 6 * 25 * 1 + 2 * 8 * 10 * 10 * 16 * 25 * 6;

describe.skipIf(!adapter)(`bench:gpu --profile on this machine's adapter (${adapter ?? "none"})`, () => {
  let onAdapter: ReturnType<typeof profile>;
  it("prints the per-kernel table with GPU times, shares and FLOP/s, and counts that agree", () => {
    onAdapter = profile("adapter");
    const { stdout, json } = onAdapter;
    expect(stdout).toMatch(/^lenet 28×28, batch 8, webgpu \(/);
    expect(stdout).toMatch(/host, per step: \d+ dispatches, \d+ submits, /);
    expect(stdout).toMatch(/kernel +calls\/step +GPU ms\/step +share +µs\/call +GFLOP\/step +TFLOP\/s/);
    expect(stdout).toMatch(/\nall kernels +\d+ /);
    expect(stdout).toContain("the 3 slowest calls");
    expect(json.nullAdapter).toBe(false);
    // Every step asks the same of Dawn: whole numbers per step.
    for (const [key, n] of Object.entries(json.counts)) expect(Number.isInteger(n), key).toBe(true);
    const c = json.counts;
    expect(c.dispatches).toBeGreaterThan(0);
    expect(c.submits).toBeGreaterThan(0);
    expect(c.submits).toBeLessThanOrEqual(c.dispatches + c.readBacks);
    expect(c.bindGroups).toBeLessThanOrEqual(c.dispatches);
    expect(c.readBacks).toBeGreaterThanOrEqual(1); // the loss
    expect(c.bytesReadBack).toBeGreaterThanOrEqual(4);
    // Some kernel calls (Reshape, Identity) dispatch nothing; none dispatches nothing and all are counted.
    expect(json.kernelCalls).toBe(json.kernels.reduce((a, k) => a + k.calls, 0));
    expect(json.kernelCalls).toBeGreaterThanOrEqual(c.dispatches / 4);
    expect(json.gpuMs).toBeCloseTo(
      json.kernels.reduce((a, k) => a + k.gpuMs, 0),
      6,
    );
    expect(json.medianStepMs).toBeGreaterThan(0);
    expect(json.medianRecordMs).toBeLessThanOrEqual(json.medianStepMs);
    const conv = json.kernels.find((k) => k.kernel === "FusedConv2D" || k.kernel === "Conv2D");
    expect(conv?.flops).toBe(CONV_FORWARD_FLOPS);
    expect(json.kernels.find((k) => k.kernel === "Conv2DBackpropFilter")?.flops).toBe(CONV_FORWARD_FLOPS);
    if (json.timestamps) {
      expect(json.gpuMs).toBeGreaterThan(0);
      expect(conv!.gpuMs).toBeGreaterThan(0);
      expect(stdout).toMatch(/\nFusedConv2D +2 +[\d.]+ +[\d.]+% +[\d.]+ +[\d.]+ +[\d.e+-]+\n/);
    }
  });

  it("on Dawn's null adapter: the host's time, the same dispatches and no GPU times", () => {
    const { stdout, json } = profile("null", { CONVNETS_DAWN_BACKEND: "null" });
    expect(stdout).toMatch(/host time per step on Dawn's null adapter \(no GPU work\): [\d.]+ ms/);
    expect(json.nullAdapter).toBe(true);
    expect(json.gpuMs).toBe(0);
    expect(json.medianStepMs).toBeGreaterThan(0);
    // The host's work does not depend on the adapter.
    expect(json.counts.dispatches).toBe(onAdapter.json.counts.dispatches);
    expect(json.kernelCalls).toBe(onAdapter.json.kernelCalls);
  });
});

describe("kernelFlops", () => {
  it("counts a convolution's multiply-adds twice, forward and both gradients alike", () => {
    // ResNet-18's first layer at 96×96, batch 256: 7×7×1→64, stride 2 → 48×48.
    const x = [256, 96, 96, 1];
    const w = [7, 7, 1, 64];
    const y = [256, 48, 48, 64];
    const forward = 2 * 256 * 48 * 48 * 64 * 49;
    expect(kernelFlops("Conv2D", [x, w], [y])).toBe(forward);
    expect(kernelFlops("FusedConv2D", [x, w, [64]], [y])).toBe(forward);
    expect(kernelFlops("Conv2DBackpropInput", [y, w], [x])).toBe(forward);
    expect(kernelFlops("Conv2DBackpropFilter", [x, y], [w])).toBe(forward);
  });

  it("reads a matrix product's inner size off its input, transposed or not", () => {
    expect(
      kernelFlops(
        "BatchMatMul",
        [
          [1, 32, 400],
          [1, 400, 120],
        ],
        [[1, 32, 120]],
      ),
    ).toBe(2 * 32 * 120 * 400);
    expect(
      kernelFlops(
        "BatchMatMul",
        [
          [1, 400, 32],
          [1, 400, 120],
        ],
        [[1, 32, 120]],
      ),
    ).toBe(2 * 32 * 120 * 400);
    expect(kernelFlops("_FusedMatMul", [[4, 8, 16], [4, 16, 2], [2]], [[4, 8, 2]])).toBe(2 * 4 * 8 * 2 * 16);
    expect(kernelFlops("Add", [[2], [2]], [[2]])).toBeUndefined();
  });
});
