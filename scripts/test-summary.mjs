// Reads vitest's JSON report and prints the one-line summary CI looks for:
// `N passed, N failed` (skipped and todo tests are counted as failed under CI,
// since a test that needs a server must not silently skip there).
import { readFileSync } from 'node:fs';

const file = process.argv[2] ?? 'test-results/vitest.json';
let report;
try {
  report = JSON.parse(readFileSync(file, 'utf8'));
} catch (err) {
  console.log(`no test report at ${file}: ${err.message}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}
const passed = report.numPassedTests ?? 0;
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
// Files that failed to load count once each.
const brokenFiles = (report.testResults ?? []).filter(
  (r) => r.status === 'failed' && (r.assertionResults ?? []).length === 0,
).length;
const failed = (report.numFailedTests ?? 0) + brokenFiles + (process.env.CI ? skipped : 0);
if (passed + failed === 0) {
  console.log('no test ran');
  console.log('0 passed, 1 failed');
  process.exit(1);
}
console.log(`${passed} passed, ${failed} failed${skipped && !process.env.CI ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 ? 1 : 0);
