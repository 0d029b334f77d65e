/**
 * Lambda event filtering (an event source mapping's FilterCriteria), the subset the local stack
 * needs: a pattern is a JSON object whose nested objects follow the record's structure and whose
 * leaves are arrays of exact values (strings, numbers, null); a leaf matches when the record's
 * value equals one of them (or, when the record's value is an array, when one of its elements
 * does). Every key of a pattern must match (AND); a mapping with several filters delivers a
 * record that matches any of them (OR); no filter at all delivers every record.
 *
 * Not supported, and refused when a pattern is compiled rather than silently matching
 * everything: the content operators inside a leaf array ({"prefix"}, {"suffix"}, {"anything-but"},
 * {"numeric"}, {"exists"}, {"equals-ignore-case"}, {"wildcard"}, {"cidr"}), "$or", and filters on
 * a record's `data`/`body` decoded as JSON (the Kinesis/SQS form).
 */

/** A compiled pattern: nested objects down to leaves of allowed exact values. */
export type FilterPattern = { readonly [key: string]: FilterPattern | readonly FilterValue[] };
export type FilterValue = string | number | null;

/**
 * Parses and checks one FilterCriteria pattern (a JSON string, as the template and the Lambda API
 * spell it). Throws naming `where` when it is not JSON, not an object, or uses a rule this
 * emulation does not implement.
 */
export function compileFilterPattern(text: string, where: string): FilterPattern {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`${where}: filter pattern is not JSON (${(error as Error).message})`, { cause: error });
  }
  return checkNode(parsed, where);
}

function checkNode(node: unknown, where: string): FilterPattern {
  if (node === null || typeof node !== "object" || Array.isArray(node)) {
    throw new Error(`${where}: a filter pattern must be a JSON object, got ${JSON.stringify(node)}`);
  }
  const entries = Object.entries(node);
  if (entries.length === 0) throw new Error(`${where}: a filter pattern object must name at least one field`);
  const out: Record<string, FilterPattern | readonly FilterValue[]> = {};
  for (const [key, value] of entries) {
    const at = `${where}.${key}`;
    if (key === "$or") throw new Error(`${at}: "$or" is not supported by the local event filter`);
    if (Array.isArray(value)) {
      if (value.length === 0) throw new Error(`${at}: a filter rule needs at least one value`);
      out[key] = value.map((item, i) => {
        if (item === null || typeof item === "string" || typeof item === "number") return item;
        const operator = typeof item === "object" ? Object.keys(item as object)[0] : undefined;
        throw new Error(
          `${at}[${i}]: ${operator === undefined ? JSON.stringify(item) : `the "${operator}" rule`} is not supported by the local event filter (exact string, number and null values only)`,
        );
      });
    } else if (value !== null && typeof value === "object") {
      out[key] = checkNode(value, at);
    } else {
      // Lambda itself refuses a bare value: every leaf is a list of values.
      throw new Error(`${at}: a filter rule must be an array of values or a nested object, got ${JSON.stringify(value)}`);
    }
  }
  return out;
}

function leafMatches(allowed: readonly FilterValue[], actual: unknown): boolean {
  const candidates = Array.isArray(actual) ? actual : [actual];
  return candidates.some((candidate) =>
    allowed.some((value) =>
      value === null
        ? candidate === null
        : typeof value === "number"
          ? typeof candidate === "number" && candidate === value
          : candidate === value,
    ),
  );
}

/** Whether `record` matches one compiled pattern. Never throws. */
export function matchesFilterPattern(pattern: FilterPattern, record: unknown): boolean {
  if (record === null || typeof record !== "object" || Array.isArray(record)) return false;
  const fields = record as Record<string, unknown>;
  return Object.entries(pattern).every(([key, rule]) => {
    if (!Object.hasOwn(fields, key)) return false;
    const actual = fields[key];
    return Array.isArray(rule) ? leafMatches(rule, actual) : matchesFilterPattern(rule as FilterPattern, actual);
  });
}

/** Whether a mapping with these filters delivers `record`: any pattern matches, or there is none. Never throws. */
export function passesFilters(patterns: readonly FilterPattern[], record: unknown): boolean {
  return patterns.length === 0 || patterns.some((pattern) => matchesFilterPattern(pattern, record));
}
