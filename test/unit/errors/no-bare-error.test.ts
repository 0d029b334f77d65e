import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..", "..", "..");
/**
 * Files whose bare Errors another change rewrites: the ingest's Kafka produce path is being
 * replaced as a whole. Remove an entry when its file is typed.
 */
const pendingRewrite = new Set<string>();

function sources(folder: string): string[] {
  return readdirSync(join(root, folder), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(".ts"))
    .map((entry) => relative(root, join(entry.parentPath, entry.name)));
}

/** Bare errors: `new Error(`, `Error(` called without new, and classes extending Error itself. */
const bare = /\bnew Error\(|(?<![\w.])Error\(|\bextends Error\b/;

describe("the error policy", () => {
  it("has no bare Error in functions/ or shared/: every error is typed from shared/errors (code, retriable)", () => {
    const found: string[] = [];
    for (const file of [...sources("functions"), ...sources("shared")]) {
      if (pendingRewrite.has(file) || file === "shared/errors/app-error.ts") continue;
      readFileSync(join(root, file), "utf8")
        .split("\n")
        .forEach((line, i) => {
          if (bare.test(line) && !line.trimStart().startsWith("*") && !line.trimStart().startsWith("//"))
            found.push(`${file}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(found).toEqual([]);
  });

  it("recognises the shapes it forbids", () => {
    expect(bare.test('throw new Error("x")')).toBe(true);
    expect(bare.test('throw Error("x")')).toBe(true);
    expect(bare.test("class BadRow extends Error {")).toBe(true);
    expect(bare.test('throw new AppError("x", { code: "X" })')).toBe(false);
    expect(bare.test('new CodecError(CodecErrorCode.corruptBody, "x")')).toBe(false);
    expect(bare.test("class CodecError extends RecordError {")).toBe(false);
  });
});
