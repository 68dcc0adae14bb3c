/**
 * The smoke test of `bench:fidelity` (issue 15). The benchmark itself is CPU-hours and runs by hand; here it
 * trains LeNet on 256 images for one epoch, seed 0, on our side and, where /usr/bin/python3 has PyTorch, on our
 * PyTorch peer's (python/peer.py), and reads back what it wrote.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, expect, it } from "vitest";

const PACKAGE_DIR = fileURLToPath(new URL("..", import.meta.url));

const TSX = join(PACKAGE_DIR, "node_modules", ".bin", "tsx");
const withTorch = spawnSync("/usr/bin/python3", ["-c", "import torch"]).status === 0;
if (!withTorch)
  console.warn(
    "fidelity.test.ts: the PyTorch side is not run: /usr/bin/python3 cannot import torch (apt-get install python3-torch)",
  );

const tmp = { dir: mkdtempSync(join(tmpdir(), "convnets-fidelity-")) };
afterAll(() => rmSync(tmp.dir, { recursive: true, force: true }));

it(`trains LeNet on 256 images for one epoch (ours${withTorch ? " and PyTorch" : ""}) and writes JSON, Markdown and the table`, () => {
  const args = [
    join(PACKAGE_DIR, "src", "fidelity.ts"),
    ...[
      "--networks",
      "lenet",
      "--seeds",
      "1",
      "--examples",
      "256",
      "--epochs",
      "1",
      "--threads",
      "1",
      "--out",
      tmp.dir,
    ],
    ...(withTorch ? [] : ["--no-torch"]),
  ];
  const res = spawnSync(TSX, args, { cwd: PACKAGE_DIR, encoding: "utf8", timeout: 110_000 });
  expect(res.status, res.stderr).toBe(0);

  const report = JSON.parse(readFileSync(join(tmp.dir, "fidelity.json"), "utf8"));
  expect(report.seeds).toBe(1);
  expect(report.threads).toBe(1);
  expect(report.networks).toHaveLength(1);
  const [lenet] = report.networks;
  expect(lenet.network).toBe("lenet");
  expect(lenet.recipe).toMatchObject({ inputSize: 28, examples: 256, epochs: 1, lr: 0.9, batchSize: 256, full: false });

  const [ours] = lenet.ours;
  expect(ours.error).toBeUndefined();
  // The first 256 training images, every test image, one epoch: one SGD step of 256 from ln 10.
  expect(ours).toMatchObject({ network: "lenet", seed: 0, examples: 256, testImages: 10_000, epochs: 1 });
  expect(ours.engine).toMatch(/^wasm/);
  expect(ours.history).toHaveLength(1);
  const { loss, testAcc } = ours.history[0];
  expect(loss).toBeGreaterThan(2);
  expect(loss).toBeLessThan(3);
  expect(testAcc).toBeGreaterThanOrEqual(0);
  expect(testAcc).toBeLessThanOrEqual(1);
  expect(lenet.summary.ours).toMatchObject({ runs: 1, diverged: 0, failed: 0 });
  expect(lenet.summary.ours.testAcc).toEqual({ mean: testAcc, min: testAcc, max: testAcc });

  if (withTorch) {
    const [torch] = lenet.torch;
    expect(torch.error).toBeUndefined();
    expect(torch.history).toHaveLength(1);
    expect(torch.history[0].loss).toBeGreaterThan(2);
    expect(lenet.summary.torch).toMatchObject({ runs: 1, diverged: 0, failed: 0 });
    expect(lenet.summary.difference).toBeCloseTo(testAcc - torch.history[0].testAcc, 10);
    // Both at chance after one step: far from issue 15's target of 0.7.
    expect(lenet.summary.target).toBe(false);
  } else {
    expect(lenet.torch).toEqual([]);
  }

  const markdown = readFileSync(join(tmp.dir, "fidelity.md"), "utf8");
  expect(markdown).toContain("| lenet | 28×28, 256 × 1 ep, lr 0.9, batch 256 |");
  expect(res.stdout).toMatch(/^lenet +28×28, 256 × 1 ep, lr 0\.9, batch 256 /m);
});

it("takes runs made earlier or elsewhere (--ours-runs, --torch-runs) instead of training them again", () => {
  const first = JSON.parse(readFileSync(join(tmp.dir, "fidelity.json"), "utf8")).networks[0];
  // A PyTorch run as torch_gpu.py prints it on a GPU machine: the network's name, the recipe, a device.
  const torchLine = {
    model: "lenet",
    inputSize: 28,
    examples: 256,
    epochs: 1,
    lr: 0.9,
    batchSize: 256,
    seed: 0,
    torch: "2.11.0",
    device: "NVIDIA H200",
    history: first.ours[0].history,
  };
  const other = { ...torchLine, seed: 1, history: [{ epoch: 1, loss: 2.3, trainAcc: 0.1, testAcc: 0.1 }] };
  // A run of 2026-11 names LeNet-BN as the PyTorch side then did: read, not refused.
  const earlier = { ...other, model: "lenet_bn", lr: 1 };
  const lines = join(tmp.dir, "torch-gpu.jsonl");
  writeFileSync(lines, `${JSON.stringify(other)}\n${JSON.stringify(earlier)}\n${JSON.stringify(torchLine)}\n`);
  const out = join(tmp.dir, "again");
  const args = [
    join(PACKAGE_DIR, "src", "fidelity.ts"),
    ...[
      "--networks",
      "lenet",
      "--seeds",
      "1",
      "--examples",
      "256",
      "--epochs",
      "1",
      "--threads",
      "1",
      "--out",
      out,
      "--no-torch",
    ],
    ...["--ours-runs", join(tmp.dir, "fidelity.json"), "--torch-runs", lines],
  ];
  const res = spawnSync(TSX, args, { cwd: PACKAGE_DIR, encoding: "utf8", timeout: 60_000 });
  expect(res.status, res.stderr).toBe(0);
  expect(res.stderr).toMatch(/ours: .*read from --ours-runs/);
  expect(res.stderr).toContain("from ../torch-gpu.jsonl");
  const again = JSON.parse(readFileSync(join(out, "fidelity.json"), "utf8"));
  // Seed 0 of each side, as written: no training here.
  expect(again.networks[0].ours).toEqual(first.ours);
  // Where it came from, relative to the report: no absolute path of this machine in a report.
  expect(again.networks[0].torch).toEqual([{ ...torchLine, from: "../torch-gpu.jsonl" }]);
  expect(again.torch.runs).toEqual(["PyTorch 2.11.0 on NVIDIA H200"]);
  expect(readFileSync(join(out, "fidelity.md"), "utf8")).toContain("PyTorch 2.11.0 on NVIDIA H200");

  const missing = spawnSync(TSX, [...args.slice(0, -4), "--torch-runs", join(tmp.dir, "nowhere.jsonl")], {
    cwd: PACKAGE_DIR,
    encoding: "utf8",
    timeout: 60_000,
  });
  expect(missing.status).not.toBe(0);
  expect(missing.stderr).toMatch(/--torch-runs .*nowhere\.jsonl: cannot read it/);
});
