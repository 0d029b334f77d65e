/**
 * What the Avro schemas (schemas/sales-v*.json, the registry's truth) cannot say about a sale:
 * the bounds POST /sales enforces on input. Together with the newest schema this is the one
 * source of the sale contract; `npm run gen` derives the TypeScript type, the validator's field
 * table, the lake columns, the template's Glue columns and schema resources, and docs/openapi.yaml's
 * SaleInput from them (docs/add-a-field.md). Every field of the newest schema has an entry here.
 */

/** How a field is checked on input; the bounds a kind takes are its own. */
export type FieldRule =
  /** A whole number from 1 to Number.MAX_SAFE_INTEGER (an Avro long). */
  | { readonly kind: "id" }
  /** An exact decimal as a JSON number or string; digits and places come from the Avro decimal. */
  | { readonly kind: "decimal"; readonly doc: string }
  /** An ISO-8601 instant with a zone or epoch milliseconds, from 1970 to year 9999. */
  | { readonly kind: "instant"; readonly doc: string }
  /** Text; nullable when the Avro type is a union with null. */
  | { readonly kind: "text"; readonly minLength?: number; readonly maxLength: number }
  /** One of a fixed list; the Avro default is the input's default. */
  | { readonly kind: "enum"; readonly values: readonly string[] };

/** One rule per field, with whether code that builds a Sale may leave the field out (Avro writes its default). */
export type SaleInputRules = Readonly<Record<string, FieldRule & { readonly optionalInSale?: boolean }>>;

export const saleInputRules = {
  payment_id: { kind: "id" },
  customer_id: { kind: "id" },
  amount: {
    kind: "decimal",
    doc: "Exact decimal, at most 8 integer digits and 2 places, as a JSON number or string, written without an exponent (the number's own text is read, never a binary float).",
  },
  payment_date: {
    kind: "instant",
    doc: "Event time, ISO-8601 with a zone naming a date that exists, or epoch milliseconds; from 1970-01-01T00:00:00Z to year 9999, and at most 5 minutes in the future.",
  },
  city: { kind: "text", maxLength: 200 },
  district: { kind: "text", maxLength: 200 },
  country: { kind: "text", minLength: 1, maxLength: 100 },
  channel: { kind: "enum", values: ["store", "web", "kiosk"] },
} as const satisfies SaleInputRules;
