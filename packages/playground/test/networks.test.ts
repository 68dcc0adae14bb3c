import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { registerModel, unregisterModel } from "@convnets/model";
import { afterAll, describe, expect, it } from "vitest";
import { networkByName, networks } from "../src/networks.js";
import { convnetsNetworks } from "../vite.config.js";

const PACKAGES = fileURLToPath(new URL("../..", import.meta.url));

describe("the page's networks", () => {
  it("are every registered network, in the book's order", () => {
    expect(networks().map((s) => s.name)).toEqual([
      "lenet",
      "alexnet",
      "vgg11",
      "vgg13",
      "vgg16",
      "vgg19",
      "nin",
      "googlenet",
      "lenet-bn",
      "resnet18",
      "resnet34",
      "densenet",
    ]);
  });

  it("include a ninth network as soon as it is registered", () => {
    const lenet = networkByName("lenet");
    registerModel({ ...lenet, name: "toynet", title: "ToyNet", paper: "none", d2lSection: undefined });
    try {
      expect(networks().at(-1)?.name).toBe("toynet");
      expect(networkByName("toynet").title).toBe("ToyNet");
    } finally {
      unregisterModel("toynet");
    }
  });

  describe("convnetsNetworks (the Vite plugin that imports them)", () => {
    const project = mkdtempSync(join(tmpdir(), "convnets-page-"));
    afterAll(() => rmSync(project, { recursive: true, force: true }));

    it("imports every installed network package of the project, a ninth one included, and nothing else", () => {
      mkdirSync(join(project, "node_modules", "@convnets"), { recursive: true });
      // The trainer's ninth-network fixture (keyword convnets-network), and core (depends on @convnets/model, but is no network).
      symlinkSync(
        join(PACKAGES, "trainer", "test", "fixtures", "toynet"),
        join(project, "node_modules", "@convnets", "toynet"),
        "dir",
      );
      symlinkSync(join(PACKAGES, "core"), join(project, "node_modules", "@convnets", "core"), "dir");
      const plugin = convnetsNetworks(project) as unknown as {
        resolveId(id: string): string;
        load(id: string): string;
      };
      expect(plugin.load(plugin.resolveId("virtual:convnets-networks"))).toBe('import "@convnets/toynet";');
      const page = convnetsNetworks(dirname(fileURLToPath(import.meta.url)) + "/..") as unknown as typeof plugin;
      expect(page.load(page.resolveId("virtual:convnets-networks")).split("\n")).toEqual(
        ["alexnet", "densenet", "googlenet", "lenet", "nin", "resnet", "vgg"].map((n) => `import "@convnets/${n}";`),
      );
    });
  });
});
