import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { saleInputRules } from "../../../schemas/sale-input.ts";
import {
  contractFields,
  generateContract,
  glueTypeOf,
  lakeColumnsOf,
  readSchemaVersions,
  replaceRegion,
} from "../../../tools/gen/contract.ts";

const root = join(import.meta.dirname, "..", "..", "..");

describe("the sale contract's generated files", () => {
  // CI runs this: a hand edit of a generated file, or a source edit without `npm run gen`, fails here.
  it.each([...generateContract(root)])("%s is what npm run gen writes from schemas/", (path, text) => {
    expect(readFileSync(join(root, path), "utf8"), `${path} is stale: run npm run gen`).toBe(text);
  });
});

describe("the generator", () => {
  const current = readSchemaVersions(root).at(-1)?.schema as Parameters<typeof lakeColumnsOf>[0];
  let scratch: string | undefined;
  afterEach(() => {
    if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
    scratch = undefined;
  });

  it("maps Avro types to lake columns, nullable unions to their one type", () => {
    expect(glueTypeOf({ name: "a", type: { type: "bytes", logicalType: "decimal", precision: 10, scale: 2 } })).toBe("decimal(10,2)");
    expect(glueTypeOf({ name: "t", type: { type: "long", logicalType: "timestamp-millis" } })).toBe("timestamp");
    expect(glueTypeOf({ name: "c", type: ["null", "string"] })).toBe("string");
    expect(glueTypeOf({ name: "n", type: "int" })).toBe("int");
    expect(() => glueTypeOf({ name: "m", type: { type: "map", values: "string" } })).toThrow(/field m: Avro type/);
    expect(() => glueTypeOf({ name: "u", type: ["null", "string", "long"] })).toThrow(/field u: only unions of null and one type/);
    expect(lakeColumnsOf(current).slice(-2)).toEqual([
      { name: "kafka_partition", type: "int" },
      { name: "kafka_offset", type: "bigint" },
    ]);
  });

  it("refuses a field without a rule, a rule without a field, and a rule the Avro type cannot carry", () => {
    const { channel: _channel, ...withoutChannel } = saleInputRules;
    expect(() => contractFields(current, withoutChannel)).toThrow(/field channel has no rule in schemas\/sale-input.ts/);
    expect(() => contractFields(current, { ...saleInputRules, gone: { kind: "id" } })).toThrow(/rules for gone/);
    expect(() => contractFields(current, { ...saleInputRules, country: { kind: "id" } })).toThrow(
      /field country: a id rule needs Avro long/,
    );
    expect(() => contractFields(current, { ...saleInputRules, channel: { kind: "enum", values: ["web"] } })).toThrow(
      /field channel: an enum needs an Avro default among web/,
    );
    expect(() => contractFields(current, { ...saleInputRules, country: { kind: "text", maxLength: 9, optionalInSale: true } })).toThrow(
      /field country: optionalInSale needs an Avro default/,
    );
    expect(
      contractFields(current, saleInputRules)
        .filter((f) => f.required)
        .map((f) => f.avro.name),
    ).toEqual(["payment_id", "customer_id", "amount", "payment_date", "country"]);
  });

  it("writes only between its markers, and names the file and region when they are missing", () => {
    const text = "a\n  # BEGIN GENERATED x (why)\n  old\n  # END GENERATED x\nb\n";
    expect(replaceRegion(text, "f.yaml", "x", ["new:", "  - 1"])).toBe(
      "a\n  # BEGIN GENERATED x (why)\n  new:\n    - 1\n  # END GENERATED x\nb\n",
    );
    expect(() => replaceRegion("a\n", "f.yaml", "x", [])).toThrow(/f.yaml: no region "# BEGIN GENERATED x"/);
  });

  it("follows a new schema version: a v3 with an optional field reaches every output", () => {
    scratch = mkdtempSync(join(tmpdir(), "contract-"));
    for (const path of ["schemas", "template.yaml", "docs/openapi.yaml"])
      cpSync(join(root, path), join(scratch, path), { recursive: true });
    const v3 = { ...current, fields: [...current.fields, { name: "note", type: ["null", "string"], default: null }] };
    writeFileSync(join(scratch, "schemas", "sales-v3.json"), JSON.stringify(v3));
    const out = generateContract(scratch, { ...saleInputRules, note: { kind: "text", maxLength: 50, optionalInSale: true } });
    expect(out.get("shared/sales/schema.ts")).toContain('import v3 from "../../schemas/sales-v3.json" with { type: "json" };');
    expect(out.get("shared/sales/schema.ts")).toContain("readonly note?: string | null;");
    expect(out.get("shared/sales/schema.ts")).toContain("export const currentSalesSchema = v3 as unknown as avro.Schema;");
    expect(out.get("shared/sales/input-fields.ts")).toContain('note: optionalTextField("note", 50),');
    expect(out.get("test/support/lake-columns.ts")).toContain('{ name: "note", type: "string" },');
    expect(out.get("template.yaml")).toMatch(/SalesSchemaV3:\n {4}Type: AWS::Glue::SchemaVersion\n {4}DependsOn: SalesSchemaV2\n/);
    expect(out.get("template.yaml")).toContain("            - Name: note\n              Type: string\n            - Name: region");
    // The view follows: the new column in its SQL, its definition's columns and its storage descriptor.
    expect(out.get("template.yaml")).toContain("channel, note, region, kafka_partition, kafka_offset, dt FROM");
    expect(out.get("template.yaml")).toContain('{"name":"note","type":"varchar"}');
    expect(out.get("docs/openapi.yaml")).toContain("        note: { type: string, nullable: true, maxLength: 50 }");
    writeFileSync(join(scratch, "schemas", "sales-v5.json"), JSON.stringify(v3));
    expect(() => generateContract(scratch as string)).toThrow(/sales-v5.json: expected version 4/);
  });
});
