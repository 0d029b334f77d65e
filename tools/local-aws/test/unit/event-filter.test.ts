import { describe, expect, it } from "vitest";
import { compileFilterPattern, matchesFilterPattern, passesFilters } from "../../runtime/event-filter.ts";

const where = "Events.X.FilterCriteria.Filters[0].Pattern";
const sliceRecord = (sk: unknown) => ({ eventName: "INSERT", dynamodb: { Keys: { pk: { S: "1m#x#sales-0" }, sk: { S: sk } } } });

describe("Lambda event filtering (local subset)", () => {
  it("matches a nested exact string rule, as the rollup's slice filter", () => {
    const slices = compileFilterPattern('{"dynamodb":{"Keys":{"sk":{"S":["slice"]}}}}', where);
    expect(matchesFilterPattern(slices, sliceRecord("slice"))).toBe(true);
    expect(matchesFilterPattern(slices, sliceRecord("watermark"))).toBe(false);
    expect(matchesFilterPattern(slices, sliceRecord("Slice"))).toBe(false);
    // A missing field never matches, at any depth.
    expect(matchesFilterPattern(slices, { dynamodb: { Keys: { pk: { S: "a" } } } })).toBe(false);
    expect(matchesFilterPattern(slices, { dynamodb: "not an object" })).toBe(false);
    expect(matchesFilterPattern(slices, null)).toBe(false);
  });

  it("ANDs the fields of a pattern and ORs the values of a rule", () => {
    const pattern = compileFilterPattern('{"eventName":["INSERT","MODIFY"],"dynamodb":{"Keys":{"sk":{"S":["slice"]}}}}', where);
    expect(matchesFilterPattern(pattern, sliceRecord("slice"))).toBe(true);
    expect(matchesFilterPattern(pattern, { ...sliceRecord("slice"), eventName: "MODIFY" })).toBe(true);
    expect(matchesFilterPattern(pattern, { ...sliceRecord("slice"), eventName: "REMOVE" })).toBe(false);
    expect(matchesFilterPattern(pattern, { ...sliceRecord("other"), eventName: "INSERT" })).toBe(false);
  });

  it("compares numbers as numbers, null as null, and an array value by any element", () => {
    const pattern = compileFilterPattern('{"n":[5],"z":[null],"tags":["red"]}', where);
    expect(matchesFilterPattern(pattern, { n: 5.0, z: null, tags: ["blue", "red"] })).toBe(true);
    expect(matchesFilterPattern(pattern, { n: "5", z: null, tags: ["red"] })).toBe(false);
    expect(matchesFilterPattern(pattern, { n: 5, tags: ["red"] })).toBe(false);
    expect(matchesFilterPattern(pattern, { n: 5, z: null, tags: ["blue"] })).toBe(false);
  });

  it("delivers a record that matches any filter, and every record when there is none", () => {
    const patterns = ['{"k":["a"]}', '{"k":["b"]}'].map((text) => compileFilterPattern(text, where));
    expect(passesFilters(patterns, { k: "b" })).toBe(true);
    expect(passesFilters(patterns, { k: "c" })).toBe(false);
    expect(passesFilters([], { anything: 1 })).toBe(true);
  });

  it("refuses at compile time, naming the place, what it does not implement instead of matching everything", () => {
    expect(() => compileFilterPattern('{"dynamodb":{"Keys":{"sk":{"S":[{"prefix":"sl"}]}}}}', where)).toThrow(
      `${where}.dynamodb.Keys.sk.S[0]: the "prefix" rule is not supported`,
    );
    expect(() => compileFilterPattern('{"n":[{"numeric":[">",1]}]}', where)).toThrow('the "numeric" rule is not supported');
    expect(() => compileFilterPattern('{"k":[{"exists":false}]}', where)).toThrow('the "exists" rule is not supported');
    expect(() => compileFilterPattern('{"$or":[{"a":["x"]},{"b":["y"]}]}', where)).toThrow(`${where}.$or: "$or" is not supported`);
    expect(() => compileFilterPattern('{"k":[true]}', where)).toThrow(`${where}.k[0]: true is not supported`);
  });

  it("refuses malformed patterns with the place named", () => {
    expect(() => compileFilterPattern("{dynamodb", where)).toThrow(`${where}: filter pattern is not JSON`);
    expect(() => compileFilterPattern('["slice"]', where)).toThrow(`${where}: a filter pattern must be a JSON object`);
    expect(() => compileFilterPattern('{"sk":"slice"}', where)).toThrow(`${where}.sk: a filter rule must be an array`);
    expect(() => compileFilterPattern('{"sk":[]}', where)).toThrow(`${where}.sk: a filter rule needs at least one value`);
    expect(() => compileFilterPattern('{"a":{}}', where)).toThrow(`${where}.a: a filter pattern object must name at least one field`);
  });
});
