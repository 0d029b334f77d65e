import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { defineConfig, type Plugin } from "vitest/config";

/**
 * What DashboardFunction's esbuild Loader (.html/.css/.mjs=text) does, for tests that load its
 * handler: the page files it imports become their text. Only that handler's imports: a test
 * that imports a page module itself gets the module.
 */
const dashboardPageAsText: Plugin = {
  name: "dashboard-page-as-text",
  enforce: "pre",
  resolveId(source, importer) {
    if (importer?.endsWith("functions/dashboard/handler.ts") && source.startsWith("./page/"))
      return `${resolve(dirname(importer), source)}?page-text`;
    return null;
  },
  load(id) {
    if (!id.endsWith("?page-text")) return null;
    return `export default ${JSON.stringify(readFileSync(id.slice(0, -"?page-text".length), "utf8"))};`;
  },
};

export default defineConfig({
  test: {
    reporters: ["default", "./test/support/summary-reporter.ts"],
    // Measured on the unit project (`npm run test:unit` passes --coverage); the floor fails the run.
    coverage: {
      provider: "v8",
      include: ["functions/**/*.ts", "shared/**/*.ts"],
      exclude: ["**/*.d.ts"],
      reporter: ["text", "text-summary"],
      // The floor: 90 % of lines for functions/ and for shared/; below it the unit run fails.
      thresholds: {
        "functions/**": { lines: 90 },
        "shared/**": { lines: 90 },
      },
    },
    projects: [
      {
        plugins: [dashboardPageAsText],
        test: {
          name: "unit",
          // The local stack's package keeps its own tests (tools/local-aws/test), split the same way.
          include: ["test/unit/**/*.test.ts", "tools/local-aws/test/unit/**/*.test.ts"],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts", "test/e2e/**/*.test.ts", "tools/local-aws/test/integration/**/*.test.ts"],
          globalSetup: ["test/integration/global-setup.ts"],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          // One broker, one DynamoDB Local, one moto: files share them, so run them one at a time.
          fileParallelism: false,
        },
      },
    ],
  },
});
