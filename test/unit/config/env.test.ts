import { describe, expect, it } from "vitest";
import { ConfigError, flag, integer, list, loadConfig, oneOf, optionalText, parsed, schemaVersionId, text } from "#shared/config/env";

const load = <S extends Parameters<typeof loadConfig>[0]>(spec: S, env: Record<string, string | undefined>) => loadConfig(spec, env);
const failure = (run: () => unknown): ConfigError => {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error("expected a ConfigError");
};

describe("config from the environment", () => {
  it("reads every kind of setting, trimmed, into a frozen object (nested groups too)", () => {
    const config = load(
      {
        table: text("TABLE"),
        region: text("REGION", "us-east-1"),
        arn: optionalText("ARN"),
        limits: { max: integer("MAX", 5, { min: 1, max: 10 }) },
        auth: oneOf("AUTH", ["iam", "none"], "iam"),
        register: flag("REGISTER", false),
        brokers: list("BROKERS"),
        window: parsed("WINDOW", "1m", (value) => value.length),
      },
      { TABLE: " sales ", MAX: "7", AUTH: "none", REGISTER: "YES", BROKERS: "a:1, ,b:2,", WINDOW: "10m/5m" },
    );
    expect(config).toEqual({
      table: "sales",
      region: "us-east-1",
      arn: undefined,
      limits: { max: 7 },
      auth: "none",
      register: true,
      brokers: ["a:1", "b:2"],
      window: 6,
    });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.limits)).toBe(true);
  });

  it("takes defaults for unset and blank variables", () => {
    const config = load(
      { max: integer("MAX", 5), register: flag("REGISTER", true), brokers: list("BROKERS", ["x:1"]), arn: optionalText("ARN") },
      { MAX: "  ", ARN: "" },
    );
    expect(config).toEqual({ max: 5, register: true, brokers: ["x:1"], arn: undefined });
  });

  it("names every bad variable in one error, with what was expected and what it got", () => {
    const error = failure(() =>
      load(
        {
          table: text("TABLE"),
          max: integer("MAX", 5, { min: 1, max: 10 }),
          auth: oneOf("AUTH", ["iam", "none"], "iam"),
          register: flag("REGISTER", false),
          window: parsed("WINDOW", "1m", () => {
            throw new Error("unknown unit");
          }),
          windows: parsed("WINDOWS", undefined, (value) => value),
        },
        { MAX: "11", AUTH: "basic", REGISTER: "maybe" },
      ),
    );
    expect(error.code).toBe("INVALID_CONFIGURATION");
    expect(error.expose).toBe(false);
    expect(error.message).toContain("environment variable TABLE is required");
    expect(error.message).toContain('MAX must be an integer in [1, 10], got "11"');
    expect(error.message).toContain('AUTH must be one of iam, none, got "basic"');
    expect(error.message).toContain('REGISTER must be true or false, got "maybe"');
    expect(error.message).toContain("WINDOW: unknown unit");
    expect(error.message).toContain("environment variable WINDOWS is required");
  });

  it("takes a schema version id as Glue gives it, and refuses anything else (an unresolved deploy-time value) by name", () => {
    const id = "a0d7c6f2-3b1e-4e59-9f1a-0c6a2b8e4d11";
    expect(load({ id: schemaVersionId("SALES_SCHEMA_VERSION_ID") }, { SALES_SCHEMA_VERSION_ID: id }).id).toBe(id);
    expect(failure(() => load({ id: schemaVersionId("V") }, { V: "<deployed SalesSchemaV2.VersionId>" })).message).toMatch(
      /V must be a schema version id/,
    );
    expect(failure(() => load({ id: schemaVersionId("V") }, {})).message).toMatch(/V is required/);
  });

  it("refuses integers that are not whole numbers", () => {
    expect(failure(() => load({ max: integer("MAX", 5) }, { MAX: "2.5" })).message).toMatch(/MAX must be an integer/);
    expect(failure(() => load({ max: integer("MAX", 5) }, { MAX: "ten" })).message).toMatch(/got "ten"/);
  });

  it("reads process.env when no environment is given", () => {
    process.env.UNIT_CONFIG_PROBE = "from-process";
    try {
      expect(loadConfig({ probe: text("UNIT_CONFIG_PROBE") }).probe).toBe("from-process");
    } finally {
      delete process.env.UNIT_CONFIG_PROBE;
    }
  });
});
