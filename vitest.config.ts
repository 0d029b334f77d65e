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
      // The floor: 90 % of lines for functions/ and for shared/; below it the unit run fails.
      thresholds: {
        "functions/**": { lines: 90 },
        "shared/**": { lines: 90 },
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
