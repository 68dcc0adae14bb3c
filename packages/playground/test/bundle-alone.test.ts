import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { bundleAlone, NETWORK_PACKAGES } from "../scripts/bundle-alone.js";
import { END, readmeOf, START } from "../scripts/bundle-sizes.js";

describe("each network package bundles alone for a browser", () => {
  it.each(NETWORK_PACKAGES)(
    "$pkg: no Node built-in in the page, and its README's size is current",
    async ({ pkg, network }) => {
      const report = await bundleAlone(pkg, network);
      expect(report.nodeModules).toEqual([]);
      const readme = readFileSync(readmeOf(pkg), "utf8");
      const section = readme.slice(readme.indexOf(START), readme.indexOf(END));
      expect(
        section,
        `${readmeOf(pkg)} has no generated size section: run pnpm --filter @convnets/playground sizes`,
      ).not.toBe("");
      const stated = Number(/\*\*(\d+) kB\*\* of JavaScript minified/.exec(section)?.[1]);
      // Within 5%: tfjs or our code growing by more shows up as a stale README (rerun the sizes script).
      expect(Math.abs(stated * 1000 - report.bytes) / report.bytes).toBeLessThan(0.05);
      // convnets' own share, to the kB: a change to the package's code shows up here.
      const statedOwn = Number(/of which (\d+) kB is convnets' own code/.exec(section)?.[1]);
      expect(Math.abs(statedOwn * 1000 - report.convnetsBytes)).toBeLessThanOrEqual(1000);
    },
  );

  it("the check finds Node built-ins where they are: core's Node entry", async () => {
    const report = await bundleAlone(
      "@convnets/core",
      false,
      `import { loadFashionMnist } from "@convnets/core";\nconsole.log(loadFashionMnist);`,
    );
    expect(report.nodeModules).toEqual(expect.arrayContaining([expect.stringMatching(/→ node:fs\/promises$/)]));
  });
});
