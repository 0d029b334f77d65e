import { describe, expect, it } from "vitest";
import { compareFindings, parseAcceptedFindings } from "../../../../test/support/checkov.ts";

const doc = (rows: string) =>
  `# findings\n\n## Accepted findings\n\n| check | resources | why |\n| --- | --- | --- |\n${rows}\n## Later\n\n| \`CKV_AWS_9\` | \`Ignored\` | not in the section |\n`;

describe("docs/checkov.md's accepted findings", () => {
  it("expands each row to its (check, resource) pairs, with the reason and line", () => {
    const accepted = parseAcceptedFindings(
      doc("| `CKV_AWS_1` Lambda DLQ | `A`, `B` | sync only |\n| `CKV2_AWS_2` x | `C` | why not |\n"),
      "d.md",
    );
    expect(accepted).toEqual([
      { check: "CKV_AWS_1", resource: "A", reason: "sync only", line: 7 },
      { check: "CKV_AWS_1", resource: "B", reason: "sync only", line: 7 },
      { check: "CKV2_AWS_2", resource: "C", reason: "why not", line: 8 },
    ]);
  });

  it.each([
    ["| `CKV_AWS_1` | `A` |  |", "d.md:7: CKV_AWS_1 gives no reason"],
    ["| `CKV_AWS_1` | none | r |", "d.md:7: CKV_AWS_1 names no resource"],
    ["| DLQ | `A` | r |", "d.md:7: no check id"],
    ["| `CKV_AWS_1` | `A` |", "d.md:7: a row has 3 cells"],
    ["| `CKV_AWS_1` | `A` | r |\n| `CKV_AWS_1` | `A` | again |", "d.md:8: CKV_AWS_1 A is listed twice"],
  ])("refuses %j, naming the line", (rows, message) => {
    expect(() => parseAcceptedFindings(doc(rows), "d.md")).toThrow(message);
  });

  it("refuses a file without the section", () => {
    expect(() => parseAcceptedFindings("# nothing\n", "d.md")).toThrow('d.md: no "## Accepted findings" section');
  });
});

describe("comparing checkov's failed checks with the accepted list", () => {
  const accepted = parseAcceptedFindings(doc("| `CKV_AWS_1` | `A`, `B` | r |\n| `CKV_AWS_2` | `A` | r |\n"), "d.md");

  it("accepts exactly the listed pairs", () => {
    const result = compareFindings(
      [
        { check: "CKV_AWS_1", resource: "A", name: "n" },
        { check: "CKV_AWS_1", resource: "B", name: "n" },
        { check: "CKV_AWS_2", resource: "A", name: "n" },
      ],
      accepted,
    );
    expect(result).toEqual({ unlisted: [], stale: [], accepted: expect.any(Array) });
    expect(result.accepted).toHaveLength(3);
  });

  it("reports a failure on an unlisted resource of a listed check, and a listed pair that no longer fails", () => {
    const result = compareFindings(
      [
        { check: "CKV_AWS_1", resource: "A", name: "n" },
        { check: "CKV_AWS_1", resource: "NewTopic", name: "n" },
        { check: "CKV_AWS_2", resource: "A", name: "n" },
      ],
      accepted,
    );
    expect(result.unlisted).toEqual([{ check: "CKV_AWS_1", resource: "NewTopic", name: "n" }]);
    expect(result.stale.map((a) => `${a.check} ${a.resource}`)).toEqual(["CKV_AWS_1 B"]);
  });
});
