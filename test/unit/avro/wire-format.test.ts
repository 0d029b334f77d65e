import { deflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { CodecError } from "#shared/avro/errors";
import { buildFrame, MAX_BODY_BYTES, parseFrame, uuidToBytes } from "#shared/avro/wire-format";

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
    const parsed = parseFrame(frame);
    expect(parsed).toMatchObject({ schemaKey: "b7f1c2d34e5f4a6b8c7d9e0f1a2b3c4d", compression: "zlib" });
    expect(parsed.body).toEqual(body);
  });

  it("accepts a plain Uint8Array as well as a Buffer", () => {
    const frame = buildFrame(Buffer.from([9]), id);
    expect(parseFrame(new Uint8Array(frame)).body).toEqual(Buffer.from([9]));
  });

  it("rejects short frames, foreign header versions and unknown compression with their own codes", () => {
    expect(codeOf(() => parseFrame(Buffer.alloc(17, 3)))).toBe("TRUNCATED_FRAME");
    expect(codeOf(() => parseFrame(Buffer.from([0, 0, 0, 0, 1, ...Buffer.alloc(20)])))).toBe("BAD_HEADER_VERSION");
    expect(codeOf(() => parseFrame(Buffer.from([3, 1, ...Buffer.alloc(20)])))).toBe("UNKNOWN_COMPRESSION");
    expect(codeOf(() => parseFrame(Buffer.from([3, 5, ...Buffer.alloc(16), 1, 2, 3])))).toBe("CORRUPT_BODY");
  });

  it("refuses a zlib body that inflates beyond the size bound instead of allocating it", () => {
    const bomb = deflateSync(Buffer.alloc(MAX_BODY_BYTES + 1024));
    expect(bomb.length).toBeLessThan(100_000);
    const frame = Buffer.concat([Buffer.from([3, 5]), uuidToBytes(id), bomb]);
    expect(codeOf(() => parseFrame(frame))).toBe("CORRUPT_BODY");
  });

  it("rejects a malformed UUID when building a frame", () => {
    expect(codeOf(() => buildFrame(Buffer.alloc(1), "not-a-uuid"))).toBe("INVALID_VALUE");
  });
});
