import type avro from "avsc";
import v1 from "../../schemas/sales-v1.json" with { type: "json" };
import v2 from "../../schemas/sales-v2.json" with { type: "json" };

/** Where a sale can happen; a v1 record (written before channels existed) reads as "store". */
export const CHANNELS = ["store", "web", "kiosk"] as const;

/** A sale as every function sees it after decoding with the current reader schema. */
export interface Sale {
  readonly payment_id: number;
  readonly customer_id: number;
  /** Exact decimal string with two places, e.g. "4.99". */
  readonly amount: string;
  /** Event time in epoch milliseconds (Avro timestamp-millis). */
  readonly payment_date: number;
  readonly city: string | null;
  readonly district: string | null;
  readonly country: string;
  readonly channel: string;
}

/** Every version of the sales schema, oldest first; the last is the current reader and writer schema. */
export const salesSchemaVersions = [v1, v2] as unknown as readonly [avro.Schema, avro.Schema];
export const currentSalesSchema = v2 as unknown as avro.Schema;
