import { readFileSync } from "node:fs";
import { join } from "node:path";
import { emulatedResourceTypes, localStackContext, unemulatedTypes } from "@sales-stream-analytics/local-aws";
import { describe, expect, it } from "vitest";

/**
 * Claims of docs/ that follow from code or from template.yaml, read from their source so the
 * page cannot drift from it.
 */
const root = new URL("../../../", import.meta.url).pathname;
const page = (name: string) => readFileSync(join(root, name), "utf8");

/** The text of a `## heading` section, up to the next `## `. */
function section(text: string, heading: string): string {
  const start = text.indexOf(`\n## ${heading}\n`);
  expect(start, `section "${heading}"`).toBeGreaterThanOrEqual(0);
  const end = text.indexOf("\n## ", start + 1);
  return text.slice(start, end < 0 ? undefined : end);
}

describe("docs/local-stack.md", () => {
  it("names every resource type of template.yaml the local stack skips, and no type it emulates", () => {
    const template = localStackContext().template;
    const skipped = unemulatedTypes(template).map((group) => group.type);
    expect(skipped).toContain("AWS::CloudWatch::Alarm");
    const table = section(page("docs/local-stack.md"), "What it does not emulate")
      .split("\n")
      .filter((line) => line.startsWith("| `"));
    const named = table.flatMap((line) => [...(line.split(" | ")[0] ?? "").matchAll(/`([A-Za-z0-9:]+)`/g)].map((m) => m[1] as string));
    expect(named.sort()).toEqual([...skipped].sort());
    expect(named.filter((type) => type in emulatedResourceTypes)).toEqual([]);
  });
});
