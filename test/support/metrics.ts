import type { Metrics } from "#shared/aggregates/metrics";

/** A window's metrics for unit tests: `orders` sales summing to `cents`, the smallest 1 cent, the largest all of it. */
export const metricsOf = (orders: number, cents: number): Metrics => ({
  orders: BigInt(orders),
  sales: BigInt(cents),
  min: 1n,
  max: BigInt(cents),
  late: 0n,
});
