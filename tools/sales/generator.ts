import { knownCountries } from "#shared/sales/regions";
import { CHANNELS, type Sale, saleDefaults } from "#shared/sales/schema";

/** Mulberry32: a tiny seeded PRNG, so a seed always yields the same stream of sales. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Pagila's rental prices; payments are these or small multiples of them.
const amounts = ["0.99", "1.99", "2.99", "3.99", "4.99", "5.99", "6.99", "7.99", "8.99", "9.99", "10.99", "11.99"];
const unknownCountries = ["Atlantis", "Wakanda", "Freedonia"];
const cities = ["Springfield", "Riverside", "Fairview", "Georgetown", "Salem", "Madison", "Franklin", "Clinton"];

export interface GeneratorOptions {
  readonly seed?: number;
  /** First payment_id; ids increase by one. */
  readonly firstPaymentId?: number;
  /** Event time of the first sale (epoch ms) and mean gap between sales. */
  readonly startMs?: number;
  readonly meanGapMs?: number;
  /** Share of sales from countries the reference table does not know (default 2%). */
  readonly unknownCountryShare?: number;
  readonly countries?: readonly string[];
}

/** An endless, reproducible stream of Pagila-like sales for tests, benchmarks and load. */
export function* generateSales(options: GeneratorOptions = {}): Generator<Sale> {
  const random = seededRandom(options.seed ?? 1);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const countries = options.countries ?? knownCountries;
  const unknownShare = options.unknownCountryShare ?? 0.02;
  let paymentId = options.firstPaymentId ?? 16050;
  let time = options.startMs ?? Date.UTC(2022, 7, 1);
  const meanGap = options.meanGapMs ?? 1000;
  for (;;) {
    const withAddress = random() > 0.05;
    time += Math.floor(random() * 2 * meanGap);
    // Fields added to the schema later start at their default, as a decoded sale has them.
    yield {
      ...saleDefaults,
      payment_id: paymentId++,
      customer_id: 1 + Math.floor(random() * 599),
      amount: pick(amounts),
      payment_date: time,
      city: withAddress ? pick(cities) : null,
      district: withAddress && random() > 0.3 ? `District ${1 + Math.floor(random() * 40)}` : null,
      country: random() < unknownShare ? pick(unknownCountries) : pick(countries),
      channel: pick(CHANNELS),
    };
  }
}

/** The first `count` sales of a seeded stream. */
export function sampleSales(count: number, options: GeneratorOptions = {}): Sale[] {
  const sales: Sale[] = [];
  for (const sale of generateSales(options)) {
    if (sales.length >= count) break;
    sales.push(sale);
  }
  return sales;
}
