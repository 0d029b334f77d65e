import * as v from "valibot";
import { SaleInput } from "#shared/sales/input";
import type { Sale } from "#shared/sales/schema";

/** One problem of one posted record, as the 400 response lists it. */
export interface RecordIssue {
  readonly index: number;
  readonly path: string;
  readonly message: string;
}

/** Event time may run ahead of the clock by this much (clock skew); further ahead would push the watermark and make later sales late. */
export const MAX_FUTURE_MS = 5 * 60 * 1000;
const futureMessage = "payment_date is more than 5 minutes in the future";

/** Validates every record; returns all sales, or every issue of every invalid record. */
export function validateSales(records: readonly unknown[], now = Date.now()): { sales: Sale[]; issues: RecordIssue[] } {
  const sales: Sale[] = [];
  const issues: RecordIssue[] = [];
  records.forEach((record, index) => {
    const result = v.safeParse(SaleInput, record, { abortPipeEarly: true });
    if (result.success) {
      const sale: Sale = result.output;
      if (sale.payment_date > now + MAX_FUTURE_MS) issues.push({ index, path: "payment_date", message: futureMessage });
      else sales.push(sale);
      return;
    }
    for (const issue of result.issues) {
      const path = issue.path?.map((item) => String(item.key)).join(".") ?? "";
      issues.push({
        index,
        path: path === "" ? "(record)" : path,
        message: path === "" && issue.expected === "Object" ? "expected a JSON object" : issue.message,
      });
    }
  });
  return { sales, issues };
}
