import { deflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { CodecError } from "#shared/avro/errors";
import { buildFrame, HEADER_LENGTH, inflateBody, MAX_BODY_BYTES, schemaKeyOf, uuidToBytes } from "#shared/avro/wire-format";

const id = "b7f1c2d3-4e5f-4a6b-8c7d-9e0f1a2b3c4d";

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(CodecError);
    return (error as CodecError).code;
  }
}

describe("Glue Schema Registry framing", () => {
  it("writes header version 3, the compression byte and the UUID most significant byte first", () => {
    const frame = buildFrame(Buffer.from([1, 2, 3]), id);
    expect(frame.subarray(0, 2)).toEqual(Buffer.from([3, 0]));
    expect(frame.subarray(2, 18).toString("hex")).toBe("b7f1c2d34e5f4a6b8c7d9e0f1a2b3c4d");
    expect(frame.subarray(18)).toEqual(Buffer.from([1, 2, 3]));
  });

  it("compresses only the body, as a zlib stream, under compression byte 5", () => {
    const body = Buffer.from("a".repeat(1000));
    const frame = buildFrame(body, id, "zlib");
    expect(frame[1]).toBe(5);
    expect(frame[18]).toBe(0x78); // zlib stream header (CMF), as java.util.zip.Deflater writes
    expect(schemaKeyOf(frame)).toBe("b7f1c2d34e5f4a6b8c7d9e0f1a2b3c4d");
    expect(inflateBody(frame.subarray(HEADER_LENGTH))).toEqual(body);
  });

  it("rejects short frames, foreign header versions and unknown compression with their own codes", () => {
    expect(codeOf(() => schemaKeyOf(Buffer.alloc(17, 3)))).toBe("TRUNCATED_FRAME");
    expect(codeOf(() => schemaKeyOf(Buffer.from([0, 0, 0, 0, 1, ...Buffer.alloc(20)])))).toBe("BAD_HEADER_VERSION");
    expect(codeOf(() => schemaKeyOf(Buffer.from([3, 1, ...Buffer.alloc(20)])))).toBe("UNKNOWN_COMPRESSION");
    expect(codeOf(() => inflateBody(Buffer.from([1, 2, 3])))).toBe("CORRUPT_BODY");
  });

  it("refuses a zlib body that inflates beyond the size bound instead of allocating it", () => {
    const bomb = deflateSync(Buffer.alloc(MAX_BODY_BYTES + 1024));
    expect(bomb.length).toBeLessThan(100_000);
    const frame = Buffer.concat([Buffer.from([3, 5]), uuidToBytes(id), bomb]);
    expect(schemaKeyOf(frame)).toHaveLength(32);
    expect(codeOf(() => inflateBody(frame.subarray(HEADER_LENGTH)))).toBe("CORRUPT_BODY");
  });

  it("rejects a malformed UUID when building a frame", () => {
    expect(codeOf(() => buildFrame(Buffer.alloc(1), "not-a-uuid"))).toBe("INVALID_VALUE");
  });
});
