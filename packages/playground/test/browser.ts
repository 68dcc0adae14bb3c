/**
 * The page in a real browser: Debian's Chromium (or CHROMIUM_PATH) driven by playwright-core, no browser
 * download. WebGL and WebGPU run on SwiftShader in headless Chromium.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type Browser, type ConsoleMessage, chromium, type Page } from "playwright-core";
import { type PreviewServer, preview } from "vite";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `no Chromium at ${CHROMIUM}: apt-get install -y chromium (pnpm test does, as root: scripts/prepare-test-machine.sh), or set CHROMIUM_PATH to a Chromium binary`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    // WebGL and WebGPU on SwiftShader (the CPU): headless Chromium here has no GPU.
    args: [
      "--use-angle=swiftshader",
      "--enable-unsafe-swiftshader",
      "--ignore-gpu-blocklist",
      "--enable-unsafe-webgpu",
      "--use-webgpu-adapter=swiftshader",
    ],
  });
}

/** `vite preview` of the built page (the test task depends on the build), with its data route. */
export async function servePage(): Promise<{ server: PreviewServer; url: string }> {
  if (!existsSync(`${ROOT}/dist/index.html`))
    throw new Error(`${ROOT}dist is not built: run pnpm --filter @convnets/playground build`);
  const server = await preview({
    root: ROOT,
    logLevel: "warn",
    preview: { host: "127.0.0.1", port: 4400 + Math.floor(Math.random() * 500) },
  });
  const url = server.resolvedUrls?.local[0];
  if (!url) throw new Error("vite preview did not report its URL");
  return { server, url };
}

/** Console errors and uncaught exceptions of a page, collected from the moment it opens. */
export function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (m: ConsoleMessage) => {
    if (m.type() === "error") errors.push(`console: ${m.text()}`);
  });
  page.on("pageerror", (e) => errors.push(`uncaught: ${e.message}`));
  return errors;
}

export interface PageRecipe {
  network?: string;
  engine?: "wasm" | "webgl" | "webgpu";
  epochs?: number;
  lr?: number;
  batchSize?: number;
  trainCount?: number;
  testCount?: number;
}

export async function fillForm(page: Page, recipe: PageRecipe): Promise<void> {
  if (recipe.network) await page.selectOption("#network", recipe.network);
  if (recipe.engine) await page.selectOption("#engine", recipe.engine);
  for (const key of ["epochs", "lr", "batchSize", "trainCount", "testCount"] as const) {
    if (recipe[key] !== undefined) await page.fill(`#${key}`, String(recipe[key]));
  }
}

/** Waits until training ends: d2l's final line in the status, or an error on the page (thrown here). */
export async function waitForEnd(page: Page, timeout = 240_000): Promise<string> {
  await page.waitForFunction(
    () => {
      const status = document.getElementById("status")!.textContent ?? "";
      return status.startsWith("loss ") || status.startsWith("stopped") || !document.getElementById("error")!.hidden;
    },
    undefined,
    { timeout, polling: 200 },
  );
  const error = await page.locator("#error").textContent();
  if (error) throw new Error(`the page shows an error: ${error}`);
  return (await page.locator("#status").textContent()) ?? "";
}

export interface EpochRow {
  epoch: number;
  loss: number;
  trainAcc: number;
  testAcc: number;
  examplesPerSec: number;
  tensors: number;
}

/** The page's table of epochs. */
export async function epochRows(page: Page): Promise<EpochRow[]> {
  const rows = await page
    .locator("#epochs-table tbody tr")
    .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => Number(td.textContent))));
  return rows.map(([epoch, loss, trainAcc, testAcc, examplesPerSec, tensors]) => ({
    epoch: epoch!,
    loss: loss!,
    trainAcc: trainAcc!,
    testAcc: testAcc!,
    examplesPerSec: examplesPerSec!,
    tensors: tensors!,
  }));
}
