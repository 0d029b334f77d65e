import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { localArn, localAws, paths } from "../../index.ts";

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.name === "node_modules") return [];
    if (entry.isDirectory()) return tsFiles(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

describe("the local region and account", () => {
  it("are written once, in stack/settings.ts: the package, tools/, bench/ and the integration tests take them from there", () => {
    const settings = join(paths.packageRoot, "stack", "settings.ts");
    const scanned = ["tools", "bench", "test/integration", "test/e2e"].flatMap((dir) => tsFiles(join(paths.projectRoot, dir)));
    // The account as a whole number (not inside a longer one), and the region as a value or in an ARN.
    const literal = new RegExp(`(?<!\\d)${localAws.accountId}(?!\\d)|["':]${localAws.region}["':]`);
    const offenders = scanned
      .filter((file) => file !== settings && file !== join(paths.packageRoot, "test", "unit", "region-account.test.ts"))
      .flatMap((file) =>
        readFileSync(file, "utf8")
          .split("\n")
          .flatMap((line, i) => (literal.test(line) ? [`${relative(paths.projectRoot, file)}:${i + 1}`] : [])),
      );
    expect(offenders).toEqual([]);
  });

  it("make the ARNs the stack's events and resources carry", () => {
    expect(localArn("lambda", "function:Fn")).toBe(`arn:aws:lambda:${localAws.region}:${localAws.accountId}:function:Fn`);
    expect(localArn("iam", "user/local", { regional: false })).toBe(`arn:aws:iam::${localAws.accountId}:user/local`);
  });
});
