import * as v from "valibot";
import { OTHER_COUNTRIES } from "../aggregates/metrics.ts";
import { saleInputFields } from "./input-fields.ts";
import type { Sale } from "./schema.ts";

/**
 * A posted sale: the ingest contract. Its fields and bounds are generated from schemas/ (input-fields.ts,
 * `npm run gen`), as is docs/openapi.yaml's SaleInput; test/unit/ingest/contract.test.ts probes both
 * at every bound. `amount` arrives as text whether the client sent a JSON number or string (see
 * parseSalesJson), so it is checked and normalised as an exact decimal; `payment_date` is an
 * ISO-8601 instant with a zone, or epoch milliseconds. Only the domain's own rules are added here.
 */
export const SaleInput = v.strictObject(
  {
    ...saleInputFields,
    country: v.pipe(
      saleInputFields.country,
      v.check((country) => country !== OTHER_COUNTRIES, `"${OTHER_COUNTRIES}" is reserved for the countries a window does not name`),
    ),
  },
  `unknown field; allowed: ${Object.keys(saleInputFields).join(", ")}`,
);

// A validated input is a Sale, field for field (the compiler checks both directions of the names).
type SaleOutput = v.InferOutput<typeof SaleInput>;
const _isSale = (input: SaleOutput): Sale => input;
const _namesEveryField: Record<keyof Sale, true> = {} as Record<keyof SaleOutput, true>;
void _isSale;
void _namesEveryField;
