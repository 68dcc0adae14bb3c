import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const packageDir = fileURLToPath(new URL("..", import.meta.url));

function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

/**
 * The end-to-end tests run bin/convnets.js, which loads dist/: build it when it is missing or older
 * than src/, so they never test stale code.
 */
export default function setup(): void {
  const cli = join(packageDir, "dist", "cli.js");
  if (existsSync(cli) && statSync(cli).mtimeMs >= newest(join(packageDir, "src"))) return;
  execFileSync(
    process.execPath,
    [join(packageDir, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json"],
    {
      cwd: packageDir,
      stdio: "inherit",
    },
  );
}
