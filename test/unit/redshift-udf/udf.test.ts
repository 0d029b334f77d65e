import { describe, expect, it } from "vitest";
import { decodeRows, redshiftTimestamp, type UdfDeps, type UdfRequest } from "#functions/redshift-udf/udf";
import { GlueAvroDecoder, GlueAvroEncoder } from "#shared/avro/codec";
import { CodecError, CodecErrorCode, RegistryUnavailableError } from "#shared/avro/errors";
import { currentSalesSchema, type Sale, salesSchemaVersions } from "#shared/sales/schema";
import { MemorySchemaSource, V1_ID, V2_ID } from "#test/support/fakes/registry";
import { sampleSales } from "#tools/sales/generator";

const sales = sampleSales(4, { seed: 8 });
const v2 = new GlueAvroEncoder<Sale>(salesSchemaVersions[1], V2_ID, "zlib");
const hex = (sale: Sale) => v2.encode(sale).toString("hex");

function deps(overrides: Partial<UdfDeps> = {}): UdfDeps & { bad: number[] } {
  const bad: number[] = [];
  const source = new MemorySchemaSource();
  return {
    decoder: new GlueAvroDecoder<Sale>(source, currentSalesSchema),
    latestVersion: async (name) => {
      if (name !== "sales") throw new CodecError(CodecErrorCode.unknownSchemaVersion, `schema ${name} is not in the registry`);
      return source.getSchemaVersion(V1_ID);
    },
    onError: "null",
    logBadRow: (row) => bad.push(row),
    bad,
    ...overrides,
  };
}

describe("f_sales_avro_to_json", () => {
  it("returns one JSON per row in order: exact amounts, Redshift timestamps, NULL for NULL", async () => {
    const d = deps();
    const { response } = await decodeRows({ arguments: [[hex(sales[0] as Sale)], [null], [hex(sales[1] as Sale)]] }, d);
    expect(response).toMatchObject({ success: true, num_records: 3 });
    if (!response.success) return;
    expect(response.results[1]).toBeNull();
    expect(JSON.parse(response.results[0] as string)).toEqual({
      ...sales[0],
      payment_date: redshiftTimestamp((sales[0] as Sale).payment_date),
    });
    expect(JSON.parse(response.results[2] as string).amount).toBe((sales[1] as Sale).amount);
  });

  it("gives NULL for bad rows, reports their index, and keeps the good ones", async () => {
    const d = deps();
    const { response, bad } = await decodeRows({ arguments: [["zz"], [hex(sales[0] as Sale)], ["0300"], ["030000"]] }, d);
    expect(bad).toBe(3);
    expect(d.bad).toEqual([0, 2, 3]);
    expect(response.success && response.results.map((r) => r === null)).toEqual([true, false, true, true]);
  });

  it("fails the query naming the row and reason when configured to", async () => {
    const { response } = await decodeRows({ arguments: [[hex(sales[0] as Sale)], ["abc"]] }, deps({ onError: "fail" }));
    expect(response).toEqual({ success: false, error_msg: expect.stringMatching(/^row 1: NOT_HEX: /) });
  });

  it("reads unframed values with the named schema's latest version", async () => {
    const raw = new GlueAvroEncoder<object>(salesSchemaVersions[0], V1_ID).encode(sales[2] as Sale).subarray(18);
    const { response } = await decodeRows(
      {
        arguments: [
          ["sales", raw.toString("hex")],
          ["nope", raw.toString("hex")],
          ["sales", null],
        ],
      },
      deps(),
    );
    expect(response.success && response.results.map((r) => (r === null ? null : JSON.parse(r).channel))).toEqual(["store", null, null]);
  });

  it("throws when the registry is down, so the query fails and Redshift retries", async () => {
    const down = new GlueAvroDecoder<Sale>(
      { getSchemaVersion: () => Promise.reject(new RegistryUnavailableError("down", undefined)) },
      currentSalesSchema,
    );
    await expect(decodeRows({ arguments: [[hex(sales[0] as Sale)]] }, deps({ decoder: down }))).rejects.toBeInstanceOf(
      RegistryUnavailableError,
    );
  });

  it("answers the Redshift guide's example shape row by row: NULL for each bad row, never a TypeError", async () => {
    // From the Redshift guide's example request: a NULL row among (int, int) rows.
    const guide = { arguments: [[1, 2], [3, null], null, [4, 6]] as UdfRequest["arguments"] };
    const d = deps();
    const outcome = await decodeRows(guide, d);
    expect(outcome.response).toEqual({ success: true, num_records: 4, results: [null, null, null, null] });
    expect(outcome).toMatchObject({ rows: 4, nulls: 1, bad: 3 });
    expect(d.bad).toEqual([0, 2, 3]);
    const failing = await decodeRows(guide, deps({ onError: "fail" }));
    expect(failing.response).toEqual({ success: false, error_msg: expect.stringMatching(/^row 0: NOT_HEX: argument is a number/) });
  });

  it.each([
    ["a NULL row", null, /^row 1: BAD_ROW_SHAPE: row is NULL/],
    ["a row that is not an array", "0300", /^row 1: BAD_ROW_SHAPE: row is a string/],
    ["an object row", { 0: "03" }, /^row 1: BAD_ROW_SHAPE: row is a object/],
    ["a row with too many arguments", ["a", "b"], /^row 1: BAD_ROW_SHAPE: row has 2 arguments; the call has 1/],
    ["an empty row", [], /^row 1: BAD_ROW_SHAPE: row has 0 arguments; the call has 1/],
    ["a number argument", [42], /^row 1: NOT_HEX: argument is a number/],
  ])("answers NULL for %s, or fails the query under onError fail", async (_name, row, failure) => {
    const request = { arguments: [[hex(sales[0] as Sale)], row, [hex(sales[1] as Sale)]] as UdfRequest["arguments"] };
    const d = deps();
    const { response, bad } = await decodeRows(request, d);
    expect(bad).toBe(1);
    expect(d.bad).toEqual([1]);
    expect(response.success && response.results.map((r) => r === null)).toEqual([false, true, false]);
    const failing = await decodeRows(request, deps({ onError: "fail" }));
    expect(failing.response).toEqual({ success: false, error_msg: expect.stringMatching(failure) });
  });

  it("answers a (schema_name, hex) row of the wrong arity or with a non-text schema name as a bad row", async () => {
    const raw = new GlueAvroEncoder<object>(salesSchemaVersions[0], V1_ID)
      .encode(sales[2] as Sale)
      .subarray(18)
      .toString("hex");
    const d = deps();
    const { response } = await decodeRows({ arguments: [["sales", raw], [raw], [7, raw], null, ["sales", raw]] }, d);
    expect(response.success && response.results.map((r) => r !== null)).toEqual([true, false, false, false, true]);
    expect(d.bad).toEqual([1, 2, 3]);
  });

  it("throws a bug-type error from the decoder instead of answering NULL", async () => {
    const buggy = new GlueAvroDecoder<Sale>(new MemorySchemaSource(), currentSalesSchema);
    buggy.decode = () => {
      throw new TypeError("Cannot read properties of undefined (reading 'amount')");
    };
    await expect(decodeRows({ arguments: [[hex(sales[0] as Sale)]] }, deps({ decoder: buggy }))).rejects.toBeInstanceOf(TypeError);
    await expect(
      decodeRows({ arguments: [["sales", "00"]] }, deps({ latestVersion: () => Promise.reject(new TypeError("bug")) })),
    ).rejects.toBeInstanceOf(TypeError);
  });

  it("formats timestamps Redshift casts as is", () => {
    expect(redshiftTimestamp(Date.UTC(2022, 7, 1, 9, 5, 3, 7))).toBe("2022-08-01 09:05:03.007");
  });
});
