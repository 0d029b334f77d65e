import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { benchReport, figuresMarkdown, replaceSection, runLine } from "../../../bench/report.ts";

const doc = [
  "# Benchmarks",
  "",
  "Hand-written text.",
  "<!-- bench:scale -->",
  "old scale figures",
  "<!-- /bench:scale -->",
  "Between the sections.",
  "<!-- bench:e2e -->",
  "old e2e figures",
  "<!-- /bench:e2e -->",
  "After.",
  "",
].join("\n");

describe("replaceSection", () => {
  it("replaces the named section only, keeping every byte around it", () => {
    const next = replaceSection(doc, "scale", "new scale figures\n");
    expect(next).toBe(doc.replace("old scale figures", "new scale figures"));
    expect(next).toContain("old e2e figures");
  });

  it("is idempotent: the same figures twice give the same file", () => {
    const once = replaceSection(doc, "e2e", "| a |\n| - |");
    expect(replaceSection(once, "e2e", "| a |\n| - |")).toBe(once);
  });

  it("appends a section under a heading naming the command when the doc has none", () => {
    const next = replaceSection(doc, "codec-decode", "figures");
    expect(next.startsWith(doc.trimEnd())).toBe(true);
    expect(next.slice(doc.trimEnd().length)).toBe(
      "\n\n## `npm run bench -- codec-decode`\n\n<!-- bench:codec-decode -->\nfigures\n<!-- /bench:codec-decode -->\n",
    );
    // and the next run replaces what the first appended
    expect(replaceSection(next, "codec-decode", "newer")).toBe(next.replace("\nfigures\n", "\nnewer\n"));
  });

  it("does not take a section whose name only starts with the name asked for", () => {
    const next = replaceSection(doc, "e2", "x");
    expect(next).toContain("old e2e figures");
    expect(next).toContain("<!-- bench:e2 -->\nx\n<!-- /bench:e2 -->");
  });

  it("refuses a duplicated marker, naming the file, the marker and the counts", () => {
    const twice = `${doc}<!-- bench:scale -->\nagain\n<!-- /bench:scale -->\n`;
    expect(() => replaceSection(twice, "scale", "x", "docs/benchmarks.md")).toThrow(
      "docs/benchmarks.md: expected <!-- bench:scale --> and <!-- /bench:scale --> once each, found 2 and 2",
    );
  });

  it("refuses a section with only one of its markers", () => {
    expect(() => replaceSection(doc.replace("<!-- /bench:e2e -->", ""), "e2e", "x")).toThrow("found 1 and 0");
    expect(() => replaceSection(doc.replace("<!-- bench:e2e -->", ""), "e2e", "x")).toThrow("found 0 and 1");
  });

  it("refuses markers in the wrong order", () => {
    const swapped = "<!-- /bench:lake -->\nx\n<!-- bench:lake -->\n";
    expect(() => replaceSection(swapped, "lake", "y")).toThrow("<!-- /bench:lake --> comes before <!-- bench:lake -->");
  });

  it("refuses a name that is not kebab-case and figures that hold a marker", () => {
    expect(() => replaceSection(doc, "Scale Bench", "x")).toThrow('bench section name "Scale Bench" is not kebab-case');
    expect(() => replaceSection(doc, "scale", "<!-- /bench:e2e -->")).toThrow("hold a bench marker themselves");
  });
});

describe("figuresMarkdown", () => {
  it("keeps a table whole and makes every other printed line a paragraph of its own", () => {
    const lines = ["\nTitle (Node v22)", "| a | b |", "| - | - |", "| 1 | 2 |", "note one", "  indented note", "", "| c |", "| - |"];
    expect(figuresMarkdown(lines)).toBe("Title (Node v22)\n\n| a | b |\n| - | - |\n| 1 | 2 |\n\nnote one\n\nindented note\n\n| c |\n| - |");
  });
});

describe("runLine", () => {
  it("says when, by which command and on what machine", () => {
    const line = runLine({
      at: new Date("2026-12-02T01:50:07.123Z"),
      command: "BENCH_RECORDS=1000 npm run bench -- codec-decode",
      cores: 2,
      cpu: "Some CPU",
      node: "v22.23.3",
      load: [1.234, 2, 3.04],
    });
    expect(line).toBe(
      "_Measured 2026-12-02 01:50 UTC by `BENCH_RECORDS=1000 npm run bench -- codec-decode` on 2 cores (Some CPU), Node v22.23.3, load average 1.2 / 2.0 / 3.0 (1/5/15 min) at the end._",
    );
  });
});

describe("benchReport", () => {
  let dir = "";
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
    if (dir !== "") rmSync(dir, { recursive: true, force: true });
  });

  it("prints each line and writes what it printed into its own section, with the knobs in the command", () => {
    dir = mkdtempSync(join(tmpdir(), "bench-report-"));
    const file = join(dir, "benchmarks.md");
    writeFileSync(file, doc);
    const log = vi.spyOn(console, "log").mockImplementation(() => undefined);
    vi.stubEnv("BENCH_RATE", "3000");
    const report = benchReport("e2e", file);
    report.print("| x | y |");
    report.print("| - | - |");
    report.save();
    expect(log).toHaveBeenCalledWith("| x | y |");
    const written = readFileSync(file, "utf8");
    expect(written).toContain("old scale figures");
    expect(written).not.toContain("old e2e figures");
    expect(written).toMatch(
      /<!-- bench:e2e -->\n_Measured \d{4}-\d\d-\d\d \d\d:\d\d UTC by `BENCH_RATE=3000 npm run bench -- e2e` on \d+ cores .*_\n\n\| x \| y \|\n\| - \| - \|\n<!-- \/bench:e2e -->/,
    );
  });

  it("leaves the file as it was when its markers are broken", () => {
    dir = mkdtempSync(join(tmpdir(), "bench-report-"));
    const file = join(dir, "benchmarks.md");
    const broken = `${doc}<!-- bench:scale -->\n`;
    writeFileSync(file, broken);
    vi.spyOn(console, "log").mockImplementation(() => undefined);
    const report = benchReport("scale", file);
    report.print("figures");
    expect(() => report.save()).toThrow("found 2 and 1");
    expect(readFileSync(file, "utf8")).toBe(broken);
  });
});
