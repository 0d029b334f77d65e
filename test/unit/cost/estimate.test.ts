import { describe, expect, it } from "vitest";
import {
  add,
  type CostLine,
  decimal,
  fixedMonthlyCost,
  flinkKpus,
  flinkMonthly,
  formatRatio,
  formatUsd,
  type MeasuredUsage,
  ratio,
  salesPerMonth,
  scaled,
  total,
  variableCost,
} from "#tools/cost/estimate";

const none: MeasuredUsage = {
  sales: 0,
  posts: 0,
  apiRequests: 0,
  lambda: [],
  dynamodbReadHalfUnits: 0,
  dynamodbWriteHalfUnits: 0,
  streamGetRecords: 0,
  s3Puts: 0,
  s3Gets: 0,
  sqsRequests: 0,
  firehoseIngestBytes: 0,
  firehoseConvertedBytes: 0,
  firehoseObjects: 0,
  firehoseDeliveredBytes: 0,
  mskBytesIn: 0,
  mskBytesOut: 0,
  logBytes: 0,
  endpointBytes: 0,
};
const find = (lines: readonly CostLine[], text: string) => {
  const hit = lines.find((l) => l.item.includes(text));
  if (hit === undefined) throw new Error(`no line "${text}" in ${lines.map((l) => l.item).join("; ")}`);
  return hit;
};

describe("exact arithmetic", () => {
  it("adds decimal prices without binary rounding", () => {
    expect(add(decimal("0.1"), decimal("0.2"))).toEqual(ratio(3, 10));
    expect(formatRatio(add(...Array.from({ length: 10 }, () => decimal("0.1"))), 2)).toBe("1.00");
  });

  it("rounds half up only when printing, with thousands separated", () => {
    expect(formatRatio(ratio(12_345_675, 10_000), 3)).toBe("1,234.568");
    expect(formatUsd(ratio(5, 10_000))).toBe("$0.0005");
    expect(formatUsd(ratio(123_456, 100))).toBe("$1,234.56");
  });

  it("refuses text that is not a decimal and a zero denominator", () => {
    expect(() => decimal("1e-5")).toThrow(/not a decimal/);
    expect(() => ratio(1, 0)).toThrow(/division by zero/);
  });
});

describe("variableCost", () => {
  it("bills Lambda GB-seconds at the template's memory, INIT included, at the architecture's price", () => {
    const lines = variableCost({
      ...none,
      lambda: [{ functionId: "IngestFunction", architecture: "arm64", memoryMb: 1024, invocations: 3, billedMs: 900, initBilledMs: 100 }],
    });
    // 1 GB x 1 s at $0.0000133334 per GB-s; 3 requests at $0.20 per million.
    expect(find(lines, "IngestFunction: duration (1024 MB").usd).toEqual(decimal("0.0000133334"));
    expect(find(lines, "IngestFunction: requests").usd).toEqual(ratio(6, 10_000_000));
  });

  it("prices DynamoDB half units and MSK bytes exactly", () => {
    const lines = variableCost({ ...none, dynamodbWriteHalfUnits: 3, dynamodbReadHalfUnits: 1, mskBytesIn: 2 ** 30 });
    expect(find(lines, "write request units").quantity).toEqual(ratio(3, 2));
    expect(find(lines, "write request units").usd).toEqual(ratio(15, 16_000_000));
    expect(find(lines, "data in").usd).toEqual(decimal("0.10"));
  });

  it("leaves a line whose price is unknown unpriced and says which", () => {
    const lines = variableCost({ ...none, firehoseIngestBytes: 1_000_000_000, apiRequests: 1_000_000 });
    const sum = total(lines);
    expect(sum.usd).toEqual(decimal("1.00"));
    expect(sum.unpriced.map((l) => l.service)).toEqual(["Data Firehose"]);
  });

  it("refuses a count that is not a non-negative integer", () => {
    expect(() => variableCost({ ...none, s3Puts: 1.5 })).toThrow(/s3Puts/);
    expect(() => variableCost({ ...none, apiRequests: -1 })).toThrow(/apiRequests/);
  });
});

describe("fixed and monthly figures", () => {
  it("counts 730 cluster-hours, partitions and endpoint-AZ hours", () => {
    const lines = fixedMonthlyCost({
      partitions: 6,
      interfaceEndpoints: 5,
      availabilityZones: 2,
      alarmMetrics: 0,
      customMetrics: 0,
      kmsKeys: 1,
    });
    expect(find(lines, "cluster-hours").usd).toEqual(decimal("547.5"));
    expect(find(lines, "6 partitions").usd).toEqual(decimal("6.57"));
    expect(find(lines, "5 endpoints x 2 AZs").usd).toEqual(decimal("73"));
  });

  it("scales a run to a month at a rate", () => {
    expect(salesPerMonth(10)).toEqual(ratio(26_280_000));
    const perSale = scaled(variableCost({ ...none, apiRequests: 1 }), ratio(1));
    expect(total(scaled(perSale, salesPerMonth(10))).usd).toEqual(decimal("26.28"));
  });

  it("sizes Flink at one KPU at least, plus the orchestration KPU", () => {
    expect(flinkKpus(10)).toEqual({ processing: 1, orchestration: 1 });
    expect(flinkKpus(10_000)).toEqual({ processing: 10, orchestration: 1 });
    expect(flinkMonthly(10_000).quantity).toEqual(ratio(11 * 730));
    expect(() => flinkKpus(-1)).toThrow(/rate/);
  });
});
