/**
 * JSON.parse, except that every number under one of `fields` comes back as its source text
 * ("12.30", not 12.3), so money never passes through a binary float. Inside a JSON string every
 * quote is escaped, so `"name"` with two unescaped quotes followed by a colon can only be a key;
 * quoting the number after it keeps its exact text. Throws JSON.parse's SyntaxError.
 */
export function parseJsonKeepingNumbers(text: string, fields: readonly string[]): unknown {
  let quoted = text;
  for (const field of fields) quoted = quoted.replace(numberAfterKey(field), '$1"$2"');
  return JSON.parse(quoted);
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** A JSON number that is the value of `field` (the lookahead makes sure the whole number is taken). */
function numberAfterKey(field: string): RegExp {
  return new RegExp(`("${escapeRegExp(field)}"\\s*:\\s*)(-?\\d+(?:\\.\\d+)?(?:[eE][+-]?\\d+)?)(?=\\s*[,}\\]])`, "g");
}
