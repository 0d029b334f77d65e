import type { GlueAvroDecoder } from "#shared/avro/codec";
import { CodecError } from "#shared/avro/errors";
import type { SchemaVersion } from "#shared/avro/registry";
import type { Sale } from "#shared/sales/schema";
import { sqlTimestamp } from "#shared/time/sql-timestamp";

/** The request Redshift sends a scalar Lambda UDF: one array of arguments per row. */
export interface UdfRequest {
  readonly request_id?: string;
  readonly query_id?: number;
  readonly num_records?: number;
  readonly arguments: readonly (readonly (string | null)[])[];
}

export type UdfResponse =
  | { readonly success: true; readonly num_records: number; readonly results: readonly (string | null)[] }
  | { readonly success: false; readonly error_msg: string };

export interface UdfDeps {
  readonly decoder: GlueAvroDecoder<Sale>;
  /** Latest version of a schema by name, for `(schema_name, hex)` calls. */
  readonly latestVersion: (schemaName: string) => Promise<SchemaVersion>;
  /** "null": a bad row gives NULL (counted and logged); "fail": it fails the query. */
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

class BadRow extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

function bytesOf(hex: string): Buffer {
  if (!hexPattern.test(hex)) throw new BadRow("NOT_HEX", `argument is not an even-length hex string (${hex.length} characters)`);
  return Buffer.from(hex, "hex");
}

/**
 * f_sales_avro_to_json: decodes each row's Avro bytes (given as hex, from TO_HEX(kafka_value))
 * into JSON of the current reader schema. One argument: a Glue frame, whose UUID names the writer
 * schema (zlib handled). Two: (schema_name, hex) of an unframed value, read with that schema's
 * latest version. NULL gives NULL. A bad row gives NULL and is reported, or with onError "fail"
 * fails the query with which row and why. Registry outages fail the query (Redshift retries).
 */
export async function decodeRows(request: UdfRequest, deps: UdfDeps): Promise<UdfOutcome> {
  const rows = request.arguments;
  const arity = rows.find((row) => row.length > 0)?.length ?? 1;
  if (arity !== 1 && arity !== 2) {
    return {
      response: { success: false, error_msg: `f_sales_avro_to_json takes (hex) or (schema_name, hex); got ${arity} arguments` },
      rows: rows.length,
      nulls: 0,
      bad: 0,
    };
  }
  const hexOf = (row: readonly (string | null)[]) => row[arity - 1] ?? null;

  // Parse the hex once, load every writer schema the frames name (one registry call per new version).
  const bytes = rows.map((row) => {
    const hex = hexOf(row);
    if (hex === null) return null;
    try {
      return bytesOf(hex);
    } catch (error) {
      return error as BadRow;
    }
  });
  if (arity === 1) await deps.decoder.load(bytes.filter((b): b is Buffer => Buffer.isBuffer(b)));
  const latest = new Map<string, Promise<SchemaVersion>>();
  if (arity === 2) {
    for (const row of rows) {
      const name = row[0];
      if (name !== null && name !== undefined && !latest.has(name)) latest.set(name, deps.latestVersion(name));
    }
    await Promise.all(
      [...latest.values()].map((p) => p.catch((error: unknown) => (error instanceof CodecError ? undefined : Promise.reject(error)))),
    );
  }

  const results: (string | null)[] = [];
  let nulls = 0;
  let bad = 0;
  for (let i = 0; i < rows.length; i++) {
    const value = bytes[i];
    if (value === null || value === undefined) {
      results.push(null);
      nulls++;
      continue;
    }
    try {
      if (value instanceof BadRow) throw value;
      if (arity === 1) results.push(saleJson(deps.decoder.decode(value)));
      else {
        const name = rows[i]?.[0];
        if (name === null || name === undefined) throw new BadRow("MISSING_SCHEMA_NAME", "schema_name is NULL");
        const writer = await (latest.get(name) as Promise<SchemaVersion>);
        results.push(saleJson(deps.decoder.decodeUnframed(value, writer)));
      }
    } catch (error) {
      const code = error instanceof CodecError || error instanceof BadRow ? error.code : "UNDECODABLE";
      const reason = (error as Error).message;
      if (deps.onError === "fail") {
        return { response: { success: false, error_msg: `row ${i}: ${code}: ${reason}` }, rows: rows.length, nulls, bad: bad + 1 };
      }
      deps.logBadRow(i, code, reason);
      results.push(null);
      bad++;
    }
  }
  return { response: { success: true, num_records: results.length, results }, rows: rows.length, nulls, bad };
}
