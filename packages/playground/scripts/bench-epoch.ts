/**
 * One epoch of LeNet on all 60,000 images: in headless Chromium on wasm (the built page, `vite preview`)
 * and in Node with `convnets train lenet --epochs 1 --threads 1`, on the same machine, alternately, `rounds`
 * times. Prints each side's examples/sec (training time only, as core's loop measures it), the best of each,
 * and the ratio of the bests. Run on a quiet machine:
 *   pnpm --filter @convnets/playground build && pnpm --filter @convnets/playground bench:epoch [network] [rounds]
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createRequire } from "node:module";
import { loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { epochRows, fillForm, launchChromium, servePage, waitForEnd } from "../test/browser.js";

const network = process.argv[2] ?? "lenet";
const rounds = Number(process.argv[3] ?? 1);
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(", ");
const trainer = join(
  dirname(createRequire(import.meta.url).resolve("@convnets/trainer/package.json")),
  "bin/convnets.js",
);

async function inChromium(): Promise<{ rate: number; engine: string }> {
  const { server, url } = await servePage();
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.goto(url);
    await fillForm(page, { network, engine: "wasm", epochs: 1, trainCount: 60000, testCount: 10000 });
    await page.click("#train");
    const status = await waitForEnd(page, 600_000);
    return { rate: (await epochRows(page))[0]!.examplesPerSec, engine: /on (wasm.*)$/.exec(status)?.[1] ?? "?" };
  } finally {
    await browser.close();
    await server.close();
  }
}

function inNode(): { rate: number; engine: string } {
  const out = mkdtempSync(join(tmpdir(), "convnets-bench-epoch-"));
  const args = [trainer, "train", network, "--epochs", "1", "--threads", "1", "--backend", "wasm", "--out", out];
  const line = execFileSync(process.execPath, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })
    .split("\n")
    .find((l) => /examples\/sec on/.test(l));
  const match = /([\d,.]+) examples\/sec on (.*)$/.exec(line ?? "");
  if (!match) throw new Error(`convnets train printed no examples/sec line`);
  return { rate: Number(match[1]!.replace(/,/g, "")), engine: match[2]! };
}

const chromium: number[] = [];
const node: number[] = [];
for (let round = 1; round <= rounds; round++) {
  const before = load();
  const page = await inChromium();
  const cli = inNode();
  chromium.push(page.rate);
  node.push(cli.rate);
  console.log(
    `round ${round} (load ${before}): Chromium ${page.rate.toFixed(0)} examples/sec on ${page.engine}; Node ${cli.rate.toFixed(0)} on ${cli.engine}`,
  );
}
const best = (rates: number[]) => Math.max(...rates);
console.log(
  `${network}, one epoch of 60,000 images, best of ${rounds}: Chromium ${best(chromium).toFixed(0)} examples/sec, Node ${best(node).toFixed(0)}: ` +
    `Chromium takes ${(best(node) / best(chromium)).toFixed(2)}× Node's time (load average now ${load()})`,
);
