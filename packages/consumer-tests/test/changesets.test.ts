/**
 * Independent versions: a changeset for one package bumps that package and the packages that depend on it
 * (internal dependencies are exact `workspace:*` pins, so each dependent gets a patch), and no other.
 * Runs `changeset version` on a copy of the workspace's manifests.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { expect, it } from "vitest";

const WORKSPACE = resolve(import.meta.dirname, "../../..");

function versionsAfter(changeset: string): Record<string, string> {
  const dir = mkdtempSync(join(tmpdir(), "convnets-changesets-"));
  for (const f of ["package.json", "pnpm-workspace.yaml"]) copyFileSync(join(WORKSPACE, f), join(dir, f));
  mkdirSync(join(dir, ".changeset"));
  copyFileSync(join(WORKSPACE, ".changeset", "config.json"), join(dir, ".changeset", "config.json"));
  writeFileSync(join(dir, ".changeset", "one-change.md"), changeset);
  const packages = readdirSync(join(WORKSPACE, "packages"));
  for (const pkg of packages) {
    mkdirSync(join(dir, "packages", pkg), { recursive: true });
    copyFileSync(join(WORKSPACE, "packages", pkg, "package.json"), join(dir, "packages", pkg, "package.json"));
  }
  execFileSync(join(WORKSPACE, "node_modules", ".bin", "changeset"), ["version"], { cwd: dir, stdio: "pipe" });
  const versions: Record<string, string> = {};
  for (const pkg of packages) {
    const before = JSON.parse(readFileSync(join(WORKSPACE, "packages", pkg, "package.json"), "utf8")).version;
    const after = JSON.parse(readFileSync(join(dir, "packages", pkg, "package.json"), "utf8")).version;
    if (before !== after) versions[pkg] = `${before} → ${after}`;
  }
  return versions;
}

const bump = (from: string, level: "patch" | "minor") => {
  const [major, minor, patch] = from.split(".").map(Number) as [number, number, number];
  return level === "patch" ? `${from} → ${major}.${minor}.${patch + 1}` : `${from} → ${major}.${minor + 1}.0`;
};
const version = (pkg: string) =>
  JSON.parse(readFileSync(join(WORKSPACE, "packages", pkg, "package.json"), "utf8")).version;

it("a change to @convnets/batchnorm bumps it and lenet, resnet, densenet (its dependents), nothing else", () => {
  const changed = versionsAfter('---\n"@convnets/batchnorm": minor\n---\n\nA change.\n');
  expect(changed).toEqual({
    batchnorm: bump(version("batchnorm"), "minor"),
    lenet: bump(version("lenet"), "patch"),
    resnet: bump(version("resnet"), "patch"),
    densenet: bump(version("densenet"), "patch"),
  });
});

it("a change to one network leaf (@convnets/vgg) bumps only vgg", () => {
  expect(versionsAfter('---\n"@convnets/vgg": patch\n---\n\nA fix.\n')).toEqual({ vgg: bump(version("vgg"), "patch") });
});
