import { describe, expect, it, vi } from "vitest";
import { setupEngine } from "../src/index.js";

// A platform without a dawn.node, or one whose dawn.node cannot load (a missing system library): the import
// throws (vitest wraps the factory's error in its own message).
vi.mock("webgpu", () => {
  throw new Error("dawn.node: cannot open shared object file");
});

describe("the webgpu engine where Dawn fails to load", () => {
  it("auto falls through to wasm, with the reason in one note line", async () => {
    const info = await setupEngine("auto");
    expect(info.backend).toBe("wasm");
    const notes = (info.notes ?? []).filter((n) => n.startsWith("webgpu:"));
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatch(/^webgpu: Dawn \(webgpu package\) failed to load on \w+-\w+: \S/);
    expect(notes[0]).not.toContain("\n");
  });

  it("asked for by name, it is an error that says what failed and what to install", async () => {
    await expect(setupEngine("webgpu")).rejects.toThrow(/^engine "webgpu" is not available: Dawn \(webgpu package\) failed to load on \w+-\w+: \S/);
  });
});
