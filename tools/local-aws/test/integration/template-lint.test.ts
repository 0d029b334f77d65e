import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { venvBin } from "../../stack/install.ts";
import { paths } from "../../stack/settings.ts";

describe("template.yaml", () => {
  it("passes cfn-lint with no errors", () => {
    // cfn-lint exits with a bit mask: 2 = error, 4 = warning, 8 = informational.
    const run = spawnSync(venvBin("cfn-lint"), ["--format", "parseable", paths.template], { encoding: "utf8" });
    const errors = run.stdout.split("\n").filter((line) => /:E\d+:/.test(line));
    expect(errors, run.stdout + run.stderr).toEqual([]);
    expect(run.error).toBeUndefined();
    // 0 clean; 4 and 8 (warnings, informational) allowed; 2 (errors) or 1 (a crash) fail.
    expect([0, 4, 8, 12], run.stdout + run.stderr).toContain(run.status);
  });
});
