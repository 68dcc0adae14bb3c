// Sums vitest JSON reports (one per package) into "N passed, M failed"; exits 1 on any failure
// or when a package that has tests left no report (it crashed before reporting).
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

let passed = 0;
let failed = 0;
const problems = [];
for (const pkg of readdirSync("packages")) {
  const hasTests = existsSync(join("packages", pkg, "test"));
  const file = join("packages", pkg, "test-results.json");
  if (!existsSync(file)) {
    if (hasTests) problems.push(`${pkg}: no test-results.json (the test run did not finish)`);
    continue;
  }
  const report = JSON.parse(readFileSync(file, "utf8"));
  passed += report.numPassedTests;
  failed += report.numFailedTests;
  const brokenSuites = report.testResults.filter((r) => r.status === "failed" && r.assertionResults.length === 0);
  for (const s of brokenSuites) problems.push(`${pkg}: ${s.name} failed to run: ${(s.message || "").split("\n")[0]}`);
  failed += brokenSuites.length;
}
for (const p of problems) console.error(p);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 || problems.length > 0 ? 1 : 0);
