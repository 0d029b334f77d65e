import type { Sale } from "#shared/sales/schema";

/** 2022-08-01T10:15Z: the minute unit tests' sales are counted from. */
export const T0 = Date.parse("2022-08-01T10:15:00Z");

/** A store sale in `country` for `amount`, `minute` minutes after T0, with no city or district. */
export function saleAt(country: string, amount: string, minute = 0, id = 1): Sale {
  return {
    payment_id: id,
    customer_id: 1,
    amount,
    payment_date: T0 + minute * 60_000,
    city: null,
    district: null,
    country,
    channel: "store",
  };
}
