import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { parse } from "yaml";
import { checkHeaders, HEADER_TOKEN, LIMITED_HEADERS, parseSalesJson } from "#functions/ingest/parse";
import { validateSales } from "#functions/ingest/validate";
import { SaleInput } from "#shared/sales/input";
import { currentSalesSchema } from "#shared/sales/schema";
import { ISO_INSTANT_SYNTAX, parseIsoInstant } from "#shared/time/instant";

/**
 * docs/openapi.yaml states the POST /sales contract; functions/ingest enforces it. These tests
 * read the document and probe the validator at every bound the document names, field by field,
 * so neither can change without the other.
 */
interface JsonSchema {
  type?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  multipleOf?: number;
  pattern?: string;
  enum?: string[];
  nullable?: boolean;
  default?: unknown;
  oneOf?: JsonSchema[];
  format?: string;
}
interface OpenApi {
  paths: Record<
    string,
    Record<
      string,
      {
        parameters: { name: string; in: string; schema: JsonSchema }[];
        requestBody: { content: Record<string, { schema: { oneOf: { maxItems?: number }[] } }> };
      }
    >
  >;
  components: {
    schemas: { SaleInput: { required: string[]; additionalProperties: boolean; properties: Record<string, JsonSchema> } };
  };
}

const openapi = parse(readFileSync(new URL("../../../docs/openapi.yaml", import.meta.url), "utf8")) as OpenApi;
const documented = openapi.components.schemas.SaleInput;
const postSales = openapi.paths["/sales"]?.post;
const valid = { payment_id: 1, customer_id: 2, amount: "4.99", payment_date: "2022-08-01T10:15:00Z", country: "France" };

/** Whether a record whose `field` is `value` (or absent) passes, sent as JSON as a client sends it. */
function accepted(field: string, value: unknown, absent = false): boolean {
  const record: Record<string, unknown> = { ...valid, [field]: value };
  if (absent) delete record[field];
  // As far in the future as the contract allows, so only the field's own rules speak.
  const { issues } = validateSales([parseSalesJson(JSON.stringify(record))], Number.MAX_SAFE_INTEGER);
  return issues.every((issue) => issue.path !== field);
}

/** The values a schema (one branch of a oneOf) says are in or out, at each of its bounds. */
function probes(schema: JsonSchema): [unknown, boolean][] {
  const out: [unknown, boolean][] = [];
  if (schema.type === "integer" || schema.type === "number") {
    const step = schema.type === "integer" ? 1 : (schema.multipleOf ?? 1);
    if (schema.minimum !== undefined) out.push([schema.minimum, true], [schema.minimum - step, false]);
    if (schema.maximum !== undefined) out.push([schema.maximum, true], [schema.maximum + step, false]);
    out.push([(schema.minimum ?? 0) + step / 2 + 1, false]);
  }
  if (schema.type === "string") {
    if (schema.enum !== undefined) out.push(...schema.enum.map((value): [unknown, boolean] => [value, true]), ["not-listed", false]);
    if (schema.maxLength !== undefined) out.push(["x".repeat(schema.maxLength), true], ["x".repeat(schema.maxLength + 1), false]);
    if (schema.minLength !== undefined && schema.minLength > 0) out.push(["x".repeat(schema.minLength - 1), false]);
  }
  return out;
}

describe("POST /sales: docs/openapi.yaml and the validator agree", () => {
  it("on the fields, which are the current Avro schema's", () => {
    const avroFields = (currentSalesSchema as unknown as { fields: { name: string }[] }).fields.map((field) => field.name);
    expect(Object.keys(SaleInput.entries).sort()).toEqual(avroFields.sort());
  });

  it("on the fields, which are required and that no other is allowed", () => {
    expect(Object.keys(documented.properties).sort()).toEqual(Object.keys(SaleInput.entries).sort());
    const required = Object.keys(SaleInput.entries).filter((field) => !accepted(field, undefined, true));
    expect(required.sort()).toEqual([...documented.required].sort());
    expect(documented.additionalProperties).toBe(false);
    expect(accepted("unexpected", 1)).toBe(false);
  });

  it.each(Object.keys(documented.properties))("on %s: every bound, enum value, null and default", (field) => {
    const schema = documented.properties[field] as JsonSchema;
    const branches = schema.oneOf ?? [schema];
    const cases = branches.flatMap(probes);
    for (const [value, expected] of cases) expect(accepted(field, value), `${field} = ${JSON.stringify(value)}`).toBe(expected);
    expect(accepted(field, null), `${field} = null`).toBe(schema.nullable === true);
    if (schema.default !== undefined) {
      const { sales } = validateSales([{ ...valid, [field]: undefined }]);
      expect(sales[0]?.[field as keyof (typeof sales)[0]]).toEqual(schema.default);
    }
    // A field takes only the JSON types the document lists.
    const types = new Set(branches.map((branch) => branch.type));
    if (!types.has("string")) expect(accepted(field, "1"), `${field} as a string`).toBe(false);
    if (!types.has("integer") && !types.has("number")) expect(accepted(field, 1), `${field} as a number`).toBe(false);
  });

  it("on amount's text: the document's pattern is the validator's", () => {
    const text = documented.properties.amount?.oneOf?.find((branch) => branch.type === "string");
    for (const [value, expected] of [
      ["99999999.99", true],
      ["-0.5", true],
      ["1.999", false],
      ["123456789", false],
      ["1e3", false],
      [".5", false],
    ] as const) {
      expect(new RegExp(text?.pattern ?? "").test(value), value).toBe(expected);
      expect(accepted("amount", value), value).toBe(expected);
    }
  });

  it("on payment_date's text: the document's syntax is the parser's, and only existing dates pass", () => {
    const text = documented.properties.payment_date?.oneOf?.find((branch) => branch.type === "string");
    expect(text?.format).toBe("date-time");
    expect(text?.pattern).toBe(ISO_INSTANT_SYNTAX);
    const syntax = new RegExp(ISO_INSTANT_SYNTAX);
    for (const value of [
      "2022-08-01T10:15Z",
      "2022-08-01T10:15:00.1+05:30",
      "2022-08-01T10:15:00",
      "2022-08-01 10:15:00Z",
      "2022-08-01T10:15:00.1234Z",
    ]) {
      expect(parseIsoInstant(value) !== undefined, value).toBe(syntax.test(value));
      expect(accepted("payment_date", value), value).toBe(syntax.test(value));
    }
    expect(accepted("payment_date", "2022-02-30T00:00:00Z")).toBe(false);
    expect(accepted("payment_date", "1969-12-31T23:59:59Z")).toBe(false);
  });

  it("on the limited headers: length and characters", () => {
    const parameters = postSales?.parameters ?? [];
    const headers = parameters.filter((p) => p.in === "header").map((p) => p.name.toLowerCase());
    expect(headers.sort()).toEqual([...LIMITED_HEADERS].sort());
    for (const parameter of parameters) {
      expect(parameter.schema.pattern, parameter.name).toBe(HEADER_TOKEN.source);
      const name = parameter.name.toLowerCase();
      const passes = (value: string) => {
        try {
          checkHeaders({ [name]: value });
          return true;
        } catch {
          return false;
        }
      };
      for (const [value, expected] of probes(parameter.schema))
        expect(passes(value as string), `${name} ${String(value).length}`).toBe(expected);
      expect(passes("with space")).toBe(false);
      expect(passes("line\nbreak")).toBe(false);
      expect(passes("ünïcode")).toBe(false);
      expect(passes("a0d7c6f2-3b1e-4e59-9f1a-0c6a2b8e4d11")).toBe(true);
    }
  });

  describe("on the batch size", () => {
    beforeAll(() => {
      for (const name of ["SALES_TOPIC", "IDEMPOTENCY_TABLE"]) vi.stubEnv(name, "unit");
      vi.stubEnv("SALES_SCHEMA_VERSION_ID", "a0d7c6f2-3b1e-4e59-9f1a-0c6a2b8e4d11");
      vi.stubEnv("MAX_RECORDS_PER_REQUEST", undefined);
    });
    afterAll(() => vi.unstubAllEnvs());

    it("documents the default record limit", async () => {
      const { config } = await import("#functions/ingest/config");
      const batch = postSales?.requestBody.content["application/json"]?.schema.oneOf.find((branch) => branch.maxItems !== undefined);
      expect(batch?.maxItems).toBe(config.limits.maxRecords);
    });
  });
});
