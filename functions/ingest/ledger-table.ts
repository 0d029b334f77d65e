import { createHash } from "node:crypto";
import type {
  AttributeValue,
  DeleteItemCommandInput,
  GetItemCommandInput,
  PutItemCommandInput,
  UpdateItemCommandInput,
} from "@aws-sdk/client-dynamodb";
import type { LedgerEntry, LedgerState } from "./ledger.ts";

/**
 * The request ledger's table layout (the IdempotencyTable: key `id`, TTL `expiration`): the one
 * place that knows its attribute names and builds the requests on it. Every write after the
 * claim is conditional on the attempt token, so an attempt that lost its lease cannot overwrite
 * the one that took over. functions/ingest/dynamodb-store.ts sends what this module builds.
 */
export type Item = Record<string, AttributeValue>;

const A = {
  id: "id",
  requestId: "requestId",
  bodyHash: "bodyHash",
  state: "state",
  firstStartedAt: "firstStartedAt",
  leaseUntil: "leaseUntil",
  attempt: "attempt",
  response: "response",
  expiration: "expiration",
} as const;

const s = (value: string): AttributeValue => ({ S: value });
const n = (value: number): AttributeValue => ({ N: String(value) });

/** The item's key: a hash of the Idempotency-Key (the key is the client's text; it is not stored). Never throws. */
function keyOf(key: string): Item {
  return { [A.id]: s(`sales#${createHash("sha256").update(key, "utf8").digest("hex")}`) };
}

function toItem(entry: LedgerEntry): Item {
  return {
    [A.requestId]: s(entry.requestId),
    [A.bodyHash]: s(entry.bodyHash),
    [A.state]: s(entry.state),
    [A.firstStartedAt]: n(entry.firstStartedAt),
    [A.leaseUntil]: n(entry.leaseUntil),
    [A.attempt]: s(entry.attempt),
    ...(entry.response !== undefined && { [A.response]: s(entry.response) }),
  };
}

/** A ledger item read back (missing attributes read as empty, 0 or UNKNOWN). Never throws. */
export function unmarshalLedgerEntry(item: Item): LedgerEntry {
  return {
    requestId: item[A.requestId]?.S ?? "",
    bodyHash: item[A.bodyHash]?.S ?? "",
    state: (item[A.state]?.S ?? "UNKNOWN") as LedgerState,
    firstStartedAt: Number(item[A.firstStartedAt]?.N ?? 0),
    leaseUntil: Number(item[A.leaseUntil]?.N ?? 0),
    attempt: item[A.attempt]?.S ?? "",
    ...(item[A.response]?.S !== undefined && { response: item[A.response]?.S }),
  };
}

/**
 * The put that claims a key for a fresh entry, refused (returning the stored item) while an
 * unexpired entry exists; the entry expires `ttlSeconds` after `now`. Never throws.
 */
export function claimPut(table: string, key: string, entry: LedgerEntry, now: number, ttlSeconds: number): PutItemCommandInput {
  const nowSeconds = Math.floor(now / 1000);
  return {
    TableName: table,
    Item: { ...keyOf(key), ...toItem(entry), [A.expiration]: n(nowSeconds + ttlSeconds) },
    // An expired item may linger until DynamoDB's TTL sweep removes it: it counts as absent.
    ConditionExpression: "attribute_not_exists(#id) OR #expiration < :nowSeconds",
    ExpressionAttributeNames: { "#id": A.id, "#expiration": A.expiration },
    ExpressionAttributeValues: { ":nowSeconds": n(nowSeconds) },
    ReturnValuesOnConditionCheckFailure: "ALL_OLD",
  };
}

/** The strongly consistent read of a key's entry. Never throws. */
export function entryGet(table: string, key: string): GetItemCommandInput {
  return { TableName: table, Key: keyOf(key), ConsistentRead: true };
}

/** An update of the entry, refused unless `attempt` still holds it. */
function updateHeldBy(table: string, key: string, attempt: string, expression: string, values: Item): UpdateItemCommandInput {
  const names: Record<string, string> = { "#attempt": A.attempt };
  for (const [name, attribute] of Object.entries(A)) if (expression.includes(`#${name}`)) names[`#${name}`] = attribute;
  return {
    TableName: table,
    Key: keyOf(key),
    UpdateExpression: expression,
    ConditionExpression: "#attempt = :expected",
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: { ...values, ":expected": s(attempt) },
  };
}

/** The takeover of an entry by a new attempt (IN_PROGRESS again, its lease), if `previous` still holds it. Never throws. */
export function recoverUpdate(table: string, key: string, previous: string, next: { attempt: string; leaseUntil: number }) {
  return updateHeldBy(table, key, previous, "SET #state = :state, #leaseUntil = :lease, #attempt = :attempt", {
    ":state": s("IN_PROGRESS" satisfies LedgerState),
    ":lease": n(next.leaseUntil),
    ":attempt": s(next.attempt),
  });
}

/** Stores the answered 202 (COMPLETED, lease removed), if `attempt` still holds the entry. Never throws. */
export function completeUpdate(table: string, key: string, attempt: string, response: string) {
  return updateHeldBy(table, key, attempt, "SET #state = :state, #response = :response REMOVE #leaseUntil", {
    ":state": s("COMPLETED" satisfies LedgerState),
    ":response": s(response),
  });
}

/** Ends the attempt's lease at `now` with the outcome UNKNOWN, if `attempt` still holds the entry. Never throws. */
export function releaseUpdate(table: string, key: string, attempt: string, now: number) {
  return updateHeldBy(table, key, attempt, "SET #state = :state, #leaseUntil = :now", {
    ":state": s("UNKNOWN" satisfies LedgerState),
    ":now": n(now),
  });
}

/** Removes the entry, if `attempt` still holds it. Never throws. */
export function forgetDelete(table: string, key: string, attempt: string): DeleteItemCommandInput {
  return {
    TableName: table,
    Key: keyOf(key),
    ConditionExpression: "#attempt = :attempt",
    ExpressionAttributeNames: { "#attempt": A.attempt },
    ExpressionAttributeValues: { ":attempt": s(attempt) },
  };
}
