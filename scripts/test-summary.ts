/**
 * Prints the one closing line CI reads ("Tests: N passed, N failed, N skipped")
 * from Vitest's JSON report, counting the lab run as one more test.
 */
import { readFileSync } from "node:fs";

const [reportPath, labStatus] = process.argv.slice(2);
let passed = 0;
let failed = 0;
let skipped = 0;
try {
  const report = JSON.parse(readFileSync(reportPath!, "utf8")) as {
    numPassedTests: number;
    numFailedTests: number;
    numPendingTests: number;
    numTodoTests: number;
    testResults: { name: string; status: string; message?: string; assertionResults: unknown[] }[];
  };
  passed = report.numPassedTests;
  // A file that failed to load counts as a failure even though it ran no test.
  const unloaded = report.testResults.filter((file) => file.status === "failed" && file.assertionResults.length === 0);
  for (const file of unloaded) console.error(`failed to run: ${file.name}: ${file.message ?? ""}`);
  failed = report.numFailedTests + unloaded.length;
  skipped = report.numPendingTests + report.numTodoTests;
} catch (error) {
  console.error(`no Vitest report at ${reportPath}: ${(error as Error).message}`);
  failed += 1;
}
if (labStatus !== undefined) {
  if (labStatus === "0") passed += 1;
  else failed += 1;
}
console.log(`Tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
