import { describe, expect, it } from "vitest";
import { CodecError, CodecErrorCode, RegistryUnavailableError } from "#shared/avro/errors";
import { ConfigError } from "#shared/config/env";
import { AppError } from "#shared/errors/app-error";
import { deadLetterOrThrow, disposition } from "#shared/errors/disposition";
import { DependencyError, DependencyErrorCode, InvariantError } from "#shared/errors/internal-errors";
import { RecordError, RecordErrorCode } from "#shared/errors/record-error";
import { DecimalError } from "#shared/money/decimal";

describe("disposition", () => {
  it.each([
    [new RecordError(RecordErrorCode.emptyValue, "no value"), "EMPTY_VALUE"],
    [new CodecError(CodecErrorCode.unknownSchemaVersion, "unknown"), "UNKNOWN_SCHEMA_VERSION"],
    [new DecimalError('"1.5" is not a two-place decimal amount'), "INVALID_DECIMAL"],
  ])("dead-letters a data error with its code: %s", (error, code) => {
    expect(disposition(error)).toEqual({ action: "dead-letter", code, message: error.message, error });
    expect(error.retriable).toBe(false);
  });

  it.each([
    new RegistryUnavailableError("Glue unreachable", undefined),
    new DependencyError(DependencyErrorCode.writeConflict, "slices kept changing"),
    new AppError("throttled", { code: "X", retriable: true }),
  ])("retries a retriable infrastructure error: %s", (error) => {
    expect(disposition(error)).toEqual({ action: "retry", error });
    expect(() => deadLetterOrThrow(error)).toThrow(error);
  });

  it.each([
    new TypeError("Cannot read properties of undefined"),
    new RangeError("Invalid time value"),
    new ConfigError("WINDOWS is not a window"),
    new InvariantError("DynamoDB answered an item that was not asked for"),
    new AppError("a cents sum passed 2^53", { code: "CENTS_OVERFLOW" }),
    "a thrown string",
  ])("rethrows anything else, a bug, never dead-lettering it: %s", (error) => {
    expect(disposition(error)).toEqual({ action: "rethrow", error });
    expect(() => deadLetterOrThrow(error)).toThrow();
  });
});
