/**
 * One epoch of LeNet on all 60,000 images: in headless Chromium on wasm (the built page, `vite preview`)
 * and in Node with `convnets train lenet --epochs 1 --threads 1`, on the same machine. Prints both
 * examples/sec (training time only, as core's loop measures it) and the ratio. Run on a quiet machine:
 *   pnpm --filter @convnets/playground build && pnpm --filter @convnets/playground bench:epoch
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createRequire } from "node:module";
import { loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { epochRows, fillForm, launchChromium, servePage, waitForEnd } from "../test/browser.js";

const network = process.argv[2] ?? "lenet";
console.log(`load average before: ${loadavg().map((l) => l.toFixed(2)).join(", ")}`);

const { server, url } = await servePage();
const browser = await launchChromium();
let pageRate: number;
let pageEngine: string;
try {
  const page = await browser.newPage();
  await page.goto(url);
  await fillForm(page, { network, engine: "wasm", epochs: 1, trainCount: 60000, testCount: 10000 });
  await page.click("#train");
  const status = await waitForEnd(page, 600_000);
  pageRate = (await epochRows(page))[0]!.examplesPerSec;
  pageEngine = /on (wasm.*)$/.exec(status)?.[1] ?? "?";
  console.log(`Chromium: ${status}`);
} finally {
  await browser.close();
  await server.close();
}

const trainer = join(dirname(createRequire(import.meta.url).resolve("@convnets/trainer/package.json")), "bin/convnets.js");
const out = mkdtempSync(join(tmpdir(), "convnets-bench-epoch-"));
const node = execFileSync(process.execPath, [trainer, "train", network, "--epochs", "1", "--threads", "1", "--out", out], { encoding: "utf8" });
const nodeLine = node.split("\n").find((l) => /examples\/sec on/.test(l)) ?? "";
const nodeRate = Number(/([\d,.]+) examples\/sec/.exec(nodeLine)?.[1]?.replace(/,/g, ""));
console.log(`Node: ${nodeLine.trim()}`);
console.log(`${network}, one epoch of 60,000 images: Chromium ${pageRate.toFixed(0)} examples/sec on ${pageEngine}, Node ${nodeRate.toFixed(0)}: Chromium takes ${(nodeRate / pageRate).toFixed(2)}× Node's time`);
console.log(`load average after: ${loadavg().map((l) => l.toFixed(2)).join(", ")}`);
