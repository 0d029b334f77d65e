import type { GlueAvroDecoder } from "#shared/avro/codec";
import { deadLetterOrThrow } from "#shared/errors/disposition";
import { regionOf } from "#shared/sales/regions";
import type { Sale } from "#shared/sales/schema";
import { sqlTimestamp } from "#shared/time/sql-timestamp";

/** A record of a Firehose delivery stream whose source is MSK. */
export interface FirehoseMskRecord {
  readonly recordId: string;
  readonly approximateArrivalTimestamp?: number;
  readonly mskRecordMetadata?: {
    readonly offset?: string | number;
    readonly partitionId?: string | number;
    readonly approximateArrivalTimestamp?: number;
  };
  readonly kafkaRecordValue: string;
}

export interface TransformedRecord {
  readonly recordId: string;
  readonly result: "Ok" | "ProcessingFailed" | "Dropped";
  readonly kafkaRecordValue: string;
  readonly metadata?: { readonly partitionKeys: Readonly<Record<string, string>> };
}

export interface TransformOutcome {
  readonly records: readonly TransformedRecord[];
  readonly ok: number;
  readonly failed: {
    readonly recordId: string;
    readonly partition: string;
    readonly offset: string;
    readonly code: string;
    readonly message: string;
  }[];
}

/**
 * One JSON object, as the Glue table's columns expect it. `amount` is written as a JSON number
 * with its exact decimal text (4.99, never 4.9899999), which the SerDe reads into decimal(10,2).
 * `region` is the country's region by the reference the aggregates group by (tools/gen derivedColumns).
 */
export function lakeJson(sale: Sale, partition: number, offset: number): string {
  const { amount, payment_date, ...rest } = sale;
  const body = JSON.stringify({
    ...rest,
    payment_date: sqlTimestamp(payment_date),
    region: regionOf(sale.country),
    kafka_partition: partition,
    kafka_offset: offset,
  });
  return `{"amount":${amount},${body.slice(1)}\n`;
}

/** The partition key of a sale: its event date, UTC. */
export const partitionKeysOf = (sale: Sale) => ({ dt: sqlTimestamp(sale.payment_date).slice(0, 10) });

/**
 * Firehose transformation for the MSK source: every record decoded with the codec becomes one
 * JSON line plus its `dt` partition key (Ok). A record that cannot be decoded comes back
 * ProcessingFailed with its original bytes, and its reason is reported in `failed`; the rest of
 * the batch is Ok. Only a data error (RecordError) is ProcessingFailed: throws when the registry
 * cannot be reached (Firehose retries the call) and on any other error, a bug (a TypeError).
 */
export async function transformRecords(records: readonly FirehoseMskRecord[], decoder: GlueAvroDecoder<Sale>): Promise<TransformOutcome> {
  const frames = records.map((record) => Buffer.from(record.kafkaRecordValue, "base64"));
  await decoder.load(frames);
  const failed: TransformOutcome["failed"][number][] = [];
  const out = records.map((record, i): TransformedRecord => {
    const partition = Number(record.mskRecordMetadata?.partitionId ?? -1);
    const offset = Number(record.mskRecordMetadata?.offset ?? -1);
    try {
      const sale = decoder.decode(frames[i] as Buffer);
      return {
        recordId: record.recordId,
        result: "Ok",
        kafkaRecordValue: Buffer.from(lakeJson(sale, partition, offset)).toString("base64"),
        metadata: { partitionKeys: partitionKeysOf(sale) },
      };
    } catch (error) {
      // A data error is this record's ProcessingFailed; a retriable error or a bug fails the call.
      const { code, message } = deadLetterOrThrow(error);
      failed.push({ recordId: record.recordId, partition: String(partition), offset: String(offset), code, message });
      // The original bytes go back untouched (they land in the error prefix); the reason's code
      // rides along as a partition key (Firehose ignores keys of failed records) and is logged.
      return {
        recordId: record.recordId,
        result: "ProcessingFailed",
        kafkaRecordValue: record.kafkaRecordValue,
        metadata: { partitionKeys: { error: code } },
      };
    }
  });
  return { records: out, ok: out.length - failed.length, failed };
}
