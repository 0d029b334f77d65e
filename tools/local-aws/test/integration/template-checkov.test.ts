import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compareFindings, parseAcceptedFindings, runCheckov } from "../../../../test/support/checkov.ts";
import { checkovBin } from "../../stack/install.ts";
import { paths } from "../../stack/settings.ts";

// Here, not in the unit project: `npm test` runs the unit tests before `npm run setup`, which
// installs checkov on a fresh machine (its own virtualenv, tools/local-aws/stack/checkov-requirements.txt).
describe("template.yaml", () => {
  it("has no checkov finding that docs/checkov.md does not accept, and docs/checkov.md accepts none that no longer fails", () => {
    const docs = join(paths.projectRoot, "docs", "checkov.md");
    const accepted = parseAcceptedFindings(readFileSync(docs, "utf8"), "docs/checkov.md");
    const report = runCheckov(checkovBin(), paths.template);
    const result = compareFindings(report.failed, accepted);
    console.log(
      `checkov ${report.version} on template.yaml: ${report.passed} checks passed, ${report.failed.length} did not, ` +
        `${result.accepted.length} of those accepted in docs/checkov.md (${accepted.length} listed)`,
    );
    // One assertion, so a failure shows both lists at once.
    expect(
      {
        unlisted: result.unlisted.map((f) => `${f.check} ${f.resource} (${f.name})`),
        stale: result.stale.map((a) => `${a.check} ${a.resource} (docs/checkov.md:${a.line})`),
      },
      "unlisted: fix them in template.yaml, or add the resource to its check's row of docs/checkov.md with the reason; " +
        "stale: docs/checkov.md accepts findings that checkov no longer reports, remove them",
    ).toEqual({ unlisted: [], stale: [] });
  });
});
