import { AppError } from "../errors/app-error.ts";

/**
 * The one place that reads environment variables. Each function declares its settings with
 * these readers and calls `loadConfig` at module scope, so a missing or malformed variable
 * fails the cold start with the variable's name, and the result is frozen and typed.
 */
export class ConfigError extends AppError {
  constructor(message: string) {
    super(message, { code: "INVALID_CONFIGURATION", status: 500, expose: false });
  }
}

type Env = Readonly<Record<string, string | undefined>>;
type Reader<T> = (env: Env) => T;

function raw(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}

/** A required string, or `fallback` when unset. */
export function text(name: string, fallback?: string): Reader<string> {
  return (env) => {
    const value = raw(env, name) ?? fallback;
    if (value === undefined) throw new ConfigError(`environment variable ${name} is required`);
    return value;
  };
}

/** A schema version id as the Glue Schema Registry gives it: a lowercase UUID (36 characters). */
export function schemaVersionId(name: string): Reader<string> {
  return (env) => {
    const value = text(name)(env);
    if (!/^[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}$/.test(value))
      throw new ConfigError(`environment variable ${name} must be a schema version id (a lowercase UUID), got "${value.slice(0, 60)}"`);
    return value;
  };
}

/** A string that may be absent. */
export function optionalText(name: string): Reader<string | undefined> {
  return (env) => raw(env, name);
}

/** An integer within [min, max]. */
export function integer(name: string, fallback: number, { min = 0, max = Number.MAX_SAFE_INTEGER } = {}): Reader<number> {
  return (env) => {
    const value = raw(env, name);
    if (value === undefined) return fallback;
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < min || parsed > max) {
      throw new ConfigError(`environment variable ${name} must be an integer in [${min}, ${max}], got "${value}"`);
    }
    return parsed;
  };
}

/** One of a fixed set of values. */
export function oneOf<const T extends string>(name: string, values: readonly T[], fallback: T): Reader<T> {
  return (env) => {
    const value = raw(env, name) ?? fallback;
    if (!(values as readonly string[]).includes(value)) {
      throw new ConfigError(`environment variable ${name} must be one of ${values.join(", ")}, got "${value}"`);
    }
    return value as T;
  };
}

/** "true"/"false" (also 1/0, yes/no). */
export function flag(name: string, fallback: boolean): Reader<boolean> {
  return (env) => {
    const value = raw(env, name)?.toLowerCase();
    if (value === undefined) return fallback;
    if (["true", "1", "yes"].includes(value)) return true;
    if (["false", "0", "no"].includes(value)) return false;
    throw new ConfigError(`environment variable ${name} must be true or false, got "${value}"`);
  };
}

/** A comma-separated list; empty entries are dropped. */
export function list(name: string, fallback: readonly string[] = []): Reader<readonly string[]> {
  return (env) => {
    const value = raw(env, name);
    return value === undefined
      ? fallback
      : value
          .split(",")
          .map((item) => item.trim())
          .filter((item) => item.length > 0);
  };
}

type Spec = { readonly [key: string]: Reader<unknown> | Spec };
type Loaded<S extends Spec> = { readonly [K in keyof S]: S[K] extends Reader<infer T> ? T : S[K] extends Spec ? Loaded<S[K]> : never };

/** Reads every setting of `spec`; throws one ConfigError naming every bad variable. */
export function loadConfig<S extends Spec>(spec: S, env: Env = process.env): Loaded<S> {
  const problems: string[] = [];
  const read = (node: Spec): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const [key, reader] of Object.entries(node)) {
      if (typeof reader === "function") {
        try {
          out[key] = reader(env);
        } catch (error) {
          problems.push((error as Error).message);
        }
      } else {
        out[key] = Object.freeze(read(reader));
      }
    }
    return out;
  };
  const config = read(spec);
  if (problems.length > 0) throw new ConfigError(`invalid configuration: ${problems.join("; ")}`);
  return Object.freeze(config) as Loaded<S>;
}

/**
 * A value parsed from text (`fallback` when unset; required when `fallback` is undefined, for a
 * setting whose one source is template.yaml); a missing value or a parse error names the variable.
 */
export function parsed<T>(name: string, fallback: string | undefined, parse: (text: string) => T): Reader<T> {
  return (env) => {
    const value = raw(env, name) ?? fallback;
    if (value === undefined) throw new ConfigError(`environment variable ${name} is required`);
    try {
      return parse(value);
    } catch (error) {
      throw new ConfigError(`environment variable ${name}: ${(error as Error).message}`);
    }
  };
}
