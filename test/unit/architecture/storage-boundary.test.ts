import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { describe, expect, it } from "vitest";

/**
 * The domain apart from storage (issue #20 item 3), as a check on the source text:
 * - cores (the logic of each function, and the pure aggregates modules) import no AWS SDK and
 *   no table module: they see domain types and ports only;
 * - only the table modules touch DynamoDB attribute values, write expressions, or name
 *   attributes and key prefixes;
 * - only the adapters (`functions/<fn>/dynamodb-store.ts`, and the shared BatchGetItem and TransactGetItems helpers)
 *   send DynamoDB commands.
 */
const root = join(import.meta.dirname, "..", "..", "..");

const cores = [
  "functions/aggregate/aggregate.ts",
  "functions/aggregate/process-batch.ts",
  "functions/aggregate/redrive-core.ts",
  "functions/rollup/rollup.ts",
  "functions/rollup/backfill.ts",
  "functions/query/query.ts",
  "functions/query/completeness.ts",
  "functions/ingest/ingest.ts",
  "functions/ingest/ledger.ts",
  "shared/aggregates/metrics.ts",
  "shared/aggregates/slices.ts",
];
const tableModules = new Set(["shared/aggregates/table.ts", "functions/ingest/ledger-table.ts"]);
const isAdapter = (file: string) =>
  /^functions\/[^/]+\/dynamodb-store\.ts$/.test(file) ||
  file === "shared/dynamodb/batch-get.ts" ||
  file === "shared/dynamodb/transact-get.ts";

function sources(folder: string): string[] {
  return readdirSync(join(root, folder), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(".ts"))
    .map((entry) => relative(root, join(entry.parentPath, entry.name)));
}

/** The file's lines that are code (comment lines left out: prose may name what code must not). */
function codeLines(file: string): { line: string; at: string }[] {
  return readFileSync(join(root, file), "utf8")
    .split("\n")
    .map((line, i) => ({ line, at: `${file}:${i + 1}` }))
    .filter(({ line }) => !/^\s*(\*|\/\/|\/\*)/.test(line));
}

/** An import of the AWS SDK, or of a table module or an adapter. */
const storageImport = /from\s+["'](@aws-sdk\/[^"']+|[^"']*(?:aggregates\/table|ledger-table|dynamodb-store)(?:\.ts)?)["']/;
/** Reading or building a DynamoDB AttributeValue: `x.S`, `x?.N`, `{ M: ... }`. */
const attributeValue = /(?:\?\.|\.)(?:S|N|M|L|SS|NS|BOOL|NULL)\b(?!\s*\()|\{\s*(?:S|N|M|L|SS|NS|BOOL|NULL)\s*:/;
/** A DynamoDB expression or its names and values written out. */
const expression = /(?:Condition|Update|Projection|KeyCondition|Filter)Expression\s*:\s*["'`]|ExpressionAttribute(?:Names|Values)\s*:\s*\{/;
/** Attribute names and key prefixes of the two tables, as string literals. */
const attributeName =
  /["'`](?:pk|sk|spk|ssk|win|tp|ws|we|ver|off|wm|dl|rd|parts|expiresAt|bodyHash|leaseUntil|firstStartedAt|expiration|slice|watermark|redriven|redriven-count)["'`]|["'`](?:watermark|redriven|series)#/;
/** A DynamoDB command constructed. */
const dynamoCommand =
  /new\s+(?:PutItem|GetItem|DeleteItem|UpdateItem|BatchGetItem|BatchWriteItem|TransactWriteItems|TransactGetItems|Query|Scan)Command\(/;

/** The files a file imports at run time (`import type` is erased; only this repository's modules are followed). */
function runtimeImports(file: string): { local: string[]; packages: string[] } {
  const text = readFileSync(join(root, file), "utf8");
  const local: string[] = [];
  const packages: string[] = [];
  for (const [, typeOnly, specifier = ""] of text.matchAll(/^import\s+(type\s)?[^;]*?from\s+["']([^"']+)["'];/gms)) {
    if (typeOnly !== undefined) continue;
    if (specifier.startsWith("#shared/")) local.push(`shared/${specifier.slice(8)}.ts`);
    else if (specifier.startsWith("#functions/")) local.push(`functions/${specifier.slice(11)}.ts`);
    else if (specifier.startsWith(".")) local.push(relative(root, join(root, dirname(file), specifier)));
    else packages.push(specifier);
  }
  return { local, packages };
}

/** Every package a file pulls in at run time, through this repository's modules, with the path that reaches it. */
function reachedPackages(file: string): Map<string, string> {
  const reached = new Map<string, string>();
  const seen = new Set<string>();
  const visit = (current: string, path: string) => {
    if (seen.has(current)) return;
    seen.add(current);
    const { local, packages } = runtimeImports(current);
    for (const name of packages) if (!reached.has(name)) reached.set(name, path);
    for (const next of local) visit(next, `${path} -> ${next}`);
  };
  visit(file, file);
  return reached;
}

function offending(files: readonly string[], pattern: RegExp): string[] {
  return files.flatMap((file) =>
    codeLines(file)
      .filter(({ line }) => pattern.test(line))
      .map(({ at, line }) => `${at}: ${line.trim()}`),
  );
}

describe("the domain apart from storage", () => {
  const all = [...sources("functions"), ...sources("shared")];
  const outsideTables = all.filter((file) => !tableModules.has(file));

  it("lists cores that exist (a renamed core must be listed again)", () => {
    expect(cores.filter((file) => !all.includes(file))).toEqual([]);
  });

  it("has cores that import neither the AWS SDK nor the table layout", () => {
    expect(offending(cores, storageImport)).toEqual([]);
  });

  it("has cores that pull in no AWS SDK at run time, through any module they import", () => {
    const found = cores.flatMap((core) =>
      [...reachedPackages(core)].filter(([name]) => name.startsWith("@aws-sdk/")).map(([name, path]) => `${name} via ${path}`),
    );
    expect(found).toEqual([]);
  });

  it("touches DynamoDB attribute values only in the table modules", () => {
    expect(offending(outsideTables, attributeValue)).toEqual([]);
  });

  it("writes DynamoDB expressions only in the table modules", () => {
    expect(offending(outsideTables, expression)).toEqual([]);
  });

  it("names the tables' attributes and key prefixes only in the table modules", () => {
    expect(offending(outsideTables, attributeName)).toEqual([]);
  });

  it("sends DynamoDB commands only from the adapters", () => {
    expect(
      offending(
        all.filter((file) => !isAdapter(file) && !tableModules.has(file)),
        dynamoCommand,
      ),
    ).toEqual([]);
  });

  it("recognises the shapes it forbids", () => {
    expect(storageImport.test('import type { AttributeValue } from "@aws-sdk/client-dynamodb";')).toBe(true);
    expect(storageImport.test('import { sliceKey } from "#shared/aggregates/table";')).toBe(true);
    expect(storageImport.test('import { createRollupStore } from "./dynamodb-store.ts";')).toBe(true);
    expect(storageImport.test('import { addPartial } from "#shared/aggregates/metrics";')).toBe(false);
    expect(attributeValue.test('if (record.keys.sk?.S === "slice")')).toBe(true);
    expect(attributeValue.test("Number(item.wm.N)")).toBe(true);
    expect(attributeValue.test('{ ":off": { N: String(offset) } }')).toBe(true);
    expect(attributeValue.test("Number.NaN, Dimension.all, metrics.sales")).toBe(false);
    expect(expression.test('ConditionExpression: "attribute_not_exists(pk)",')).toBe(true);
    expect(expression.test("ExpressionAttributeNames: { '#d': attribute },")).toBe(true);
    expect(expression.test("...(projection !== undefined && { ProjectionExpression: projection }),")).toBe(false);
    expect(attributeName.test('attributes["tp"]')).toBe(true);
    expect(attributeName.test("`series#${window}`")).toBe(true);
    expect(attributeName.test('kind: "written"')).toBe(false);
    expect(dynamoCommand.test("await client.send(new PutItemCommand(put));")).toBe(true);
    expect(dynamoCommand.test("new SendMessageBatchCommand({")).toBe(false);
    // The import walk sees an SDK pulled in by a module a core imports (the adapter here).
    expect([...reachedPackages("functions/rollup/wiring.ts").keys()]).toContain("@aws-sdk/client-dynamodb");
  });
});
