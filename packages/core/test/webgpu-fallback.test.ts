import { afterEach, describe, expect, it, vi } from "vitest";
import { setupEngine } from "../src/index.js";

// In this process, a dawn.node that cannot load (a platform without one, a missing system library): the import
// throws (vitest wraps the factory's error in its own message). auto looks for the adapter in a child process,
// which this mock does not reach; the tests below break that child through its environment instead.
vi.mock("webgpu", () => {
  throw new Error("dawn.node: cannot open shared object file");
});

const saved = { ...process.env };
afterEach(() => {
  for (const name of ["NODE_OPTIONS", "VK_DRIVER_FILES", "VK_ICD_FILENAMES"]) {
    if (saved[name] === undefined) delete process.env[name];
    else process.env[name] = saved[name];
  }
});

function webgpuNotes(notes: string[] | undefined): string[] {
  return (notes ?? []).filter((n) => n.startsWith("webgpu:"));
}

describe("the webgpu engine where it cannot start", () => {
  it("auto: Dawn failing to load (here, the probe's process dying at start) falls through to wasm with one note", async () => {
    process.env.NODE_OPTIONS = "--require /nonexistent/dawn-fails-to-load.cjs";
    const info = await setupEngine("auto");
    expect(info.backend).toBe("wasm");
    const notes = webgpuNotes(info.notes);
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatch(/^webgpu: Dawn \(webgpu package\) failed to load on \w+-\w+: .*dawn-fails-to-load/);
    expect(notes[0]).not.toContain("\n");
  });

  it("auto: no Vulkan driver, no adapter (a machine without a GPU): wasm, and no note", async () => {
    process.env.VK_DRIVER_FILES = "/nonexistent/icd.json";
    process.env.VK_ICD_FILENAMES = "/nonexistent/icd.json";
    const info = await setupEngine("auto");
    expect(info.backend).toBe("wasm");
    expect(webgpuNotes(info.notes)).toEqual([]);
  });

  it("asked for by name, a Dawn that fails to load is an error that says what failed", async () => {
    await expect(setupEngine("webgpu")).rejects.toThrow(
      /^engine "webgpu" is not available: Dawn \(webgpu package\) failed to load on \w+-\w+: \S/,
    );
  });
});
