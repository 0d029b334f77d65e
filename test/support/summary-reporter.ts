import type { Reporter, SerializedError, TestModule } from "vitest/node";

/**
 * Ends every vitest run with one plain line, `tests: N passed, N failed[, N skipped]`,
 * free of colour codes, so CI logs and tools that read a run's closing line see the counts.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<SerializedError>): void {
    let passed = 0;
    // A file that fails to load or a failing hook fails no test, and an unhandled error fails
    // none either: each counts as one failure here, so the line never says "0 failed" over them.
    let failed = unhandledErrors.length;
    let skipped = 0;
    for (const module of testModules) {
      failed += module.errors().length;
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === "passed") passed++;
        else if (state === "failed") failed++;
        else skipped++;
      }
    }
    const tail = skipped > 0 ? `, ${skipped} skipped` : "";
    process.stdout.write(`\ntests: ${passed} passed, ${failed} failed${tail}\n`);
  }
}
