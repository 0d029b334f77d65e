import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    reporters: ["default", "./test/support/summary-reporter.ts"],
    // Measured on the unit project (`npm run test:unit` passes --coverage); the floor fails the run.
    coverage: {
      provider: "v8",
      include: ["functions/**/*.ts", "shared/**/*.ts"],
      exclude: ["**/*.d.ts"],
      reporter: ["text", "text-summary"],
      // The floor is 90 % of lines for functions/ and for shared/. functions/ as a whole sits
      // below it until the aggregate store, batch and query store (being rewritten) get their
      // unit tests: until then the 90 % holds for every other file of functions/, and the whole
      // directory must not fall below what it has now. Raise "functions/**" to 90 then.
      thresholds: {
        "shared/**": { lines: 90 },
        "functions/{ingest,firehose-transform,redshift-udf}/**": { lines: 90 },
        "functions/query/{config,handler,query}.ts": { lines: 90 },
        "functions/aggregate/{config,handler}.ts": { lines: 90 },
        "functions/**": { lines: 80 },
      },
    },
    projects: [
      {
        test: { name: "unit", include: ["test/unit/**/*.test.ts"], testTimeout: 20_000 },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts", "test/e2e/**/*.test.ts"],
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
