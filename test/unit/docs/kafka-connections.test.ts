import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { awsReaders, ingestContainerBudget, ingestLimits, readerBudget } from "#shared/kafka/connection-budget";

const section = readFileSync("docs/deploying.md", "utf8").split("## Kafka connections")[1]?.split("\n## ")[0] ?? "";
const text = section.replace(/\s+/g, " ");

describe("docs/deploying.md, Kafka connections", () => {
  it("quotes the budget module's figures for 6 partitions (the template's default)", () => {
    const budget = ingestContainerBudget(6);
    const limits = ingestLimits(6);
    expect(section).not.toBe("");
    expect(text).toContain("shared/kafka/connection-budget.ts");
    expect(text).toMatch(new RegExp(`first POST .*\\| 9 attempts \\| ${budget.coldAttempts} \\|`));
    expect(text).toContain(`| 7 open | ${budget.held} |`);
    expect(text).toContain(`| 30 attempts | ${budget.unknownAttempts} |`);
    expect(text).toContain(`| ${budget.recoveryAttempts}, ${budget.recoveryExtraOpen} at once |`);
    expect(text).toContain(`(budget ${readerBudget(6).held})`);
    expect(text).toContain(`(15): ${awsReaders(6)} with 6 partitions`);
    expect(text).toContain(`1,000 - ${awsReaders(6)} for the readers leaves ${limits.ingestConnections}`);
    expect(text).toContain(`so ${limits.maxContainers} containers fit`);
    expect(text).toContain(`busy at ${limits.maxRate} requests/s`);
    expect(text).toContain(`(100 - ${awsReaders(6)}) / ${budget.coldAttempts} = ${limits.largestColdBurst} cold containers`);
    expect(text).toContain(`at most ${limits.maxContainers} with 6 partitions`);
  });

  it("says what 12 partitions do to the budget", () => {
    const budget = ingestContainerBudget(12);
    const limits = ingestLimits(12);
    expect(text).toContain(`with 12 partitions a cold container opens ${budget.coldAttempts}, ${limits.maxContainers} containers fit`);
    expect(limits.largestColdBurst).toBe(0);
  });
});
