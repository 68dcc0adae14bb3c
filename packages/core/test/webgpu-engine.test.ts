import { spawnSync } from "node:child_process";
import { closeSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import { describe, expect, it } from "vitest";
import { setupEngine } from "../src/index.js";
import { adapterName, webgpuDescription } from "../src/webgpu.js";
import { tempDir } from "./helpers.js";
import { SKIP_WEBGPU } from "./webgpu-helpers.js";

const SRC = fileURLToPath(new URL("../src/index.ts", import.meta.url));

/**
 * Starts the engine in a fresh Node process, its stderr a file as a shell's `2>` makes it (a terminal or a
 * pipe behave the same; a socket, as Node's own child pipes are, cannot be swapped back and is left as is).
 */
function engineInChild(preference: string, env: Record<string, string | undefined>) {
  const dir = tempDir();
  const script = join(dir, "engine.mts");
  writeFileSync(
    script,
    `import { setupEngine } from ${JSON.stringify(SRC)};\nconsole.log(JSON.stringify(await setupEngine(${JSON.stringify(preference)})));\n`,
  );
  const stderrFile = join(dir, "stderr.txt");
  const stderrFd = openSync(stderrFile, "w");
  const child = spawnSync(process.execPath, ["--import", "tsx", script], {
    cwd: fileURLToPath(new URL("..", import.meta.url)),
    encoding: "utf8",
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", stderrFd],
    timeout: 60_000,
  });
  closeSync(stderrFd);
  const stderr = readFileSync(stderrFile, "utf8");
  if (child.status !== 0) throw new Error(`the engine failed in a child process:\n${stderr}`);
  return { info: JSON.parse(child.stdout.trim().split("\n").at(-1)!), stderr };
}

describe("webgpu descriptions", () => {
  it("name the adapter, Dawn's backend, and software where it is one", () => {
    const llvmpipe = { vendor: "mesa", device: "llvmpipe-llvm-15", description: "llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)" };
    expect(webgpuDescription({ ...llvmpipe, architecture: "software", software: true, backend: "vulkan" })).toBe(
      "webgpu (llvmpipe, vulkan, software)",
    );
    const m2 = {
      vendor: "apple",
      device: "",
      description: "Apple M2 Pro",
      architecture: "metal-3",
      software: false,
      backend: "metal",
    };
    expect(webgpuDescription(m2)).toBe("webgpu (Apple M2 Pro, metal)");
    expect(adapterName({ vendor: "nvidia", device: "", description: "" })).toBe("nvidia");
  });
});

describe.skipIf(SKIP_WEBGPU)("the webgpu engine", () => {
  it("starts when asked for by name, on whatever adapter Dawn finds (a software one too), and says which", async () => {
    const info = await setupEngine("webgpu");
    expect(tf.getBackend()).toBe("webgpu");
    expect(info.backend).toBe("webgpu");
    expect(info.description).toMatch(/^webgpu \([^,()]+, (vulkan|metal|d3d12|opengles)(, software)?\)$/);
    expect(info.gpu).toBeTruthy();
    // Runs: a small product, read asynchronously (webgpu in Node has no synchronous read).
    const product = tf.matMul(tf.ones([4, 3]), tf.ones([3, 2]));
    expect(Array.from(await product.data())).toEqual([3, 3, 3, 3, 3, 3, 3, 3]);
    tf.dispose(product);
  });

  it("auto takes a hardware adapter, and passes a software one over for wasm with a one-line note", async () => {
    const asked = await setupEngine("webgpu");
    const software = asked.description.endsWith(", software)");
    const info = await setupEngine("auto");
    if (software) {
      expect(info.backend).toBe("wasm");
      const notes = (info.notes ?? []).filter((n) => n.startsWith("webgpu:"));
      expect(notes).toHaveLength(1);
      expect(notes[0]).toMatch(/^webgpu: passed over \S+ \(\w+\), a software adapter: .*--backend webgpu/);
      expect(notes[0]).not.toContain("\n");
    } else {
      expect(info.backend).toBe("webgpu");
    }
  });

  it("keeps Dawn's start-up warnings off stderr unless CONVNETS_DEBUG is set", () => {
    const quiet = engineInChild("webgpu", { CONVNETS_DEBUG: undefined });
    expect(quiet.info.backend).toBe("webgpu");
    expect(quiet.stderr).not.toMatch(/artificially reduced|XDG_RUNTIME_DIR/);
    // Our own stderr works again afterwards: the descriptor was given back.
    expect(quiet.stderr).toBe("");
    if (quiet.info.description.endsWith(", software)")) {
      // lavapipe's limits make Dawn warn: proof that the warnings were there to hide.
      const loud = engineInChild("webgpu", { CONVNETS_DEBUG: "1" });
      expect(loud.stderr).toMatch(/artificially reduced/);
    }
  });
});
