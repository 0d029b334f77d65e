import { RecordError, RecordErrorCode } from "../errors/record-error.ts";
import { parseIsoInstant } from "./instant.ts";

const pad = (n: number, width = 2) => String(n).padStart(width, "0");

/**
 * "2022-08-01 10:15:00.000" for epoch milliseconds, in UTC: the timestamp text that Redshift
 * casts to TIMESTAMP and Hive's JSON SerDe (Firehose's Parquet conversion) reads, as is.
 */
export function sqlTimestamp(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}`;
}

/** Epoch milliseconds of a sqlTimestamp text ("2022-08-01 10:15:00.000", UTC). Throws RecordError (INVALID_TIMESTAMP) on text that is not one or names no existing time. */
export function parseSqlTimestamp(text: string): number {
  const ms = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}/.test(text) ? parseIsoInstant(`${text.replace(" ", "T")}Z`) : undefined;
  if (ms === undefined)
    throw new RecordError(RecordErrorCode.invalidTimestamp, `"${text}" is not a UTC timestamp like 2022-08-01 10:15:00.000`);
  return ms;
}
