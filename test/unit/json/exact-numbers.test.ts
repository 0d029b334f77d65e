import { describe, expect, it } from "vitest";
import { parseJsonKeepingNumbers } from "#shared/json/exact-numbers";

describe("JSON with exact numbers", () => {
  it("keeps the named fields' numbers as their source text, in objects and arrays, and leaves others alone", () => {
    expect(parseJsonKeepingNumbers('[{"amount": 0.10, "n": 0.10}, {"amount":1e3,"n":2}]', ["amount"])).toEqual([
      { amount: "0.10", n: 0.1 },
      { amount: "1e3", n: 2 },
    ]);
    expect(parseJsonKeepingNumbers('{"note":"\\"amount\\": 5","amount":12.30}', ["amount"])).toEqual({
      note: '"amount": 5',
      amount: "12.30",
    });
  });

  it("throws JSON.parse's error on malformed text", () => {
    expect(() => parseJsonKeepingNumbers('{"amount": 1,}', ["amount"])).toThrow(SyntaxError);
  });
});
