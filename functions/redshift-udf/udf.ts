import type { GlueAvroDecoder } from "#shared/avro/codec";
import type { SchemaVersion } from "#shared/avro/registry";
import { deadLetterOrThrow, disposition } from "#shared/errors/disposition";
import { RecordError, RecordErrorCode } from "#shared/errors/record-error";
import type { Sale } from "#shared/sales/schema";
import { sqlTimestamp } from "#shared/time/sql-timestamp";

/**
 * The request Redshift sends a scalar Lambda UDF: one array of arguments per row. Typed as
 * Redshift documents it; decodeRows checks each row's shape anyway (the guide's own example
 * has a NULL row), so a malformed row is a bad row, not a TypeError.
 */
export interface UdfRequest {
  readonly request_id?: string;
  readonly query_id?: number;
  readonly num_records?: number;
  readonly arguments: readonly (readonly unknown[] | null)[];
}

export type UdfResponse =
  | { readonly success: true; readonly num_records: number; readonly results: readonly (string | null)[] }
  | { readonly success: false; readonly error_msg: string };

export interface UdfDeps {
  readonly decoder: GlueAvroDecoder<Sale>;
  /** Latest version of a schema by name, for `(schema_name, hex)` calls. */
  readonly latestVersion: (schemaName: string) => Promise<SchemaVersion>;
  /** "null": a bad row (a data error) gives NULL (counted and logged); "fail": it fails the query. */
  readonly onError: "null" | "fail";
  readonly logBadRow: (row: number, code: string, reason: string) => void;
}

export interface UdfOutcome {
  readonly response: UdfResponse;
  readonly rows: number;
  readonly nulls: number;
  readonly bad: number;
}

const hexPattern = /^(?:[0-9a-fA-F]{2})*$/;
/** "2022-08-01 10:15:00.000" (UTC), which Redshift casts to TIMESTAMP as is. */
export const redshiftTimestamp = sqlTimestamp;

/** A decoded sale as the JSON a row returns: amount as an exact decimal string, time as a Redshift timestamp. */
export function saleJson(sale: Sale): string {
  return JSON.stringify({ ...sale, payment_date: redshiftTimestamp(sale.payment_date) });
}

function bytesOf(hex: unknown): Buffer {
  if (typeof hex !== "string") throw new RecordError(RecordErrorCode.notHex, `argument is a ${typeof hex}, not a hex string`);
  if (!hexPattern.test(hex))
    throw new RecordError(RecordErrorCode.notHex, `argument is not an even-length hex string (${hex.length} characters)`);
  return Buffer.from(hex, "hex");
}

/** A row's value to decode: its bytes and, for (schema_name, hex), the schema's name. */
interface RowValue {
  readonly bytes: Buffer;
  readonly schemaName?: string;
}

/**
 * Reads one row of `arguments` for a call of `arity` arguments: undefined for a NULL value (the
 * row answers NULL), else its bytes. Throws RecordError when the row itself is NULL, not an
 * array or of another arity (BAD_ROW_SHAPE), its schema_name is NULL (MISSING_SCHEMA_NAME) or its
 * value is no hex string (NOT_HEX).
 */
function rowValue(row: unknown, arity: 1 | 2): RowValue | undefined {
  if (!Array.isArray(row)) {
    throw new RecordError(RecordErrorCode.badRowShape, `row is ${row === null ? "NULL" : `a ${typeof row}`}, not an array of arguments`);
  }
  if (row.length !== arity) throw new RecordError(RecordErrorCode.badRowShape, `row has ${row.length} arguments; the call has ${arity}`);
  const hex: unknown = row[arity - 1];
  if (hex === null || hex === undefined) return undefined;
  const bytes = bytesOf(hex);
  if (arity === 1) return { bytes };
  const schemaName: unknown = row[0];
  if (schemaName === null || schemaName === undefined) throw new RecordError(RecordErrorCode.missingSchemaName, "schema_name is NULL");
  if (typeof schemaName !== "string") throw new RecordError(RecordErrorCode.badRowShape, `schema_name is a ${typeof schemaName}, not text`);
  return { bytes, schemaName };
}

/**
 * f_sales_avro_to_json: decodes each row's Avro bytes (given as hex, from TO_HEX(kafka_value))
 * into JSON of the current reader schema. One argument: a Glue frame, whose UUID names the writer
 * schema (zlib handled). Two: (schema_name, hex) of an unframed value, read with that schema's
 * latest version. A NULL value gives NULL. A bad row (a data error: undecodable, unknown schema,
 * not hex, or a row that is NULL, not an array or of the wrong arity) gives NULL and is reported,
 * or with onError "fail" fails the query with which row and why. Throws on registry outages
 * (the query fails and Redshift retries) and on any other error, a bug (never answered as NULL).
 */
export async function decodeRows(request: UdfRequest, deps: UdfDeps): Promise<UdfOutcome> {
  const rows: readonly unknown[] = Array.isArray(request.arguments) ? request.arguments : [];
  if (!Array.isArray(request.arguments)) {
    return { response: { success: false, error_msg: "the request has no arguments array" }, rows: 0, nulls: 0, bad: 0 };
  }
  // The call's arity is that of its rows; a row of another shape is a bad row, never a TypeError.
  const arity = (rows.find((row): row is readonly unknown[] => Array.isArray(row) && row.length > 0)?.length ?? 1) as number;
  if (arity !== 1 && arity !== 2) {
    return {
      response: { success: false, error_msg: `f_sales_avro_to_json takes (hex) or (schema_name, hex); got ${arity} arguments` },
      rows: rows.length,
      nulls: 0,
      bad: 0,
    };
  }

  // Read each row once, then load every writer schema the frames name (one registry call per new version).
  const values = rows.map((row): RowValue | undefined | RecordError => {
    try {
      return rowValue(row, arity);
    } catch (error) {
      return deadLetterOrThrow(error).error;
    }
  });
  const readable = values.filter((value): value is RowValue => value !== undefined && !(value instanceof RecordError));
  if (arity === 1) await deps.decoder.load(readable.map((value) => value.bytes));
  const latest = new Map<string, Promise<SchemaVersion>>();
  if (arity === 2) {
    for (const { schemaName } of readable) {
      if (schemaName !== undefined && !latest.has(schemaName)) latest.set(schemaName, deps.latestVersion(schemaName));
    }
    // A data error (an unknown schema) is that rows' error, met below; anything else fails the query now.
    await Promise.all(
      [...latest.values()].map((p) =>
        p.catch((error: unknown) => (disposition(error).action === "dead-letter" ? undefined : Promise.reject(error))),
      ),
    );
  }

  const results: (string | null)[] = [];
  let nulls = 0;
  let bad = 0;
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (value === undefined) {
      results.push(null);
      nulls++;
      continue;
    }
    try {
      if (value instanceof RecordError) throw value;
      if (value.schemaName === undefined) results.push(saleJson(deps.decoder.decode(value.bytes)));
      else {
        const writer = await (latest.get(value.schemaName) as Promise<SchemaVersion>);
        results.push(saleJson(deps.decoder.decodeUnframed(value.bytes, writer)));
      }
    } catch (error) {
      const { code, message } = deadLetterOrThrow(error);
      if (deps.onError === "fail") {
        return { response: { success: false, error_msg: `row ${i}: ${code}: ${message}` }, rows: rows.length, nulls, bad: bad + 1 };
      }
      deps.logBadRow(i, code, message);
      results.push(null);
      bad++;
    }
  }
  return { response: { success: true, num_records: results.length, results }, rows: rows.length, nulls, bad };
}
