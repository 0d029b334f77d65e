import { createHash, randomUUID } from "node:crypto";
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { type Claim, type ClaimRequest, decide, type LedgerEntry, type LedgerState, type RequestLedger } from "./ledger.ts";

type Item = Record<string, AttributeValue>;

/** Attribute names of a ledger item (key `id`, TTL `expiration`: the IdempotencyTable's schema). */
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

/**
 * The request ledger in DynamoDB (the IdempotencyTable). The item's id is a hash of the
 * Idempotency-Key (the key is the client's text; it is not stored). Every write after the
 * claim is conditional on the attempt token, so an attempt that lost its lease cannot overwrite
 * the one that took over. Items expire `ttlSeconds` after the first attempt.
 */
export class DynamoDbRequestLedger implements RequestLedger {
  readonly #client: DynamoDBClient;
  readonly #table: string;
  readonly #ttlSeconds: number;

  constructor(client: DynamoDBClient, table: string, ttlSeconds: number) {
    this.#client = client;
    this.#table = table;
    this.#ttlSeconds = ttlSeconds;
  }

  /** Claims the key (see RequestLedger). Throws the SDK's error when DynamoDB fails. */
  async claim(key: string, request: ClaimRequest): Promise<Claim> {
    const attempt = randomUUID();
    const fresh: LedgerEntry = {
      requestId: randomUUID(),
      bodyHash: request.bodyHash,
      state: "IN_PROGRESS",
      firstStartedAt: request.now,
      leaseUntil: request.leaseUntil,
      attempt,
    };
    let existing: LedgerEntry | undefined;
    try {
      await this.#client.send(
        new PutItemCommand({
          TableName: this.#table,
          Item: { ...this.#key(key), ...toItem(fresh), [A.expiration]: n(Math.floor(request.now / 1000) + this.#ttlSeconds) },
          // An expired item may linger until DynamoDB's TTL sweep removes it: it counts as absent.
          ConditionExpression: "attribute_not_exists(#id) OR #expiration < :nowSeconds",
          ExpressionAttributeNames: { "#id": A.id, "#expiration": A.expiration },
          ExpressionAttributeValues: { ":nowSeconds": n(Math.floor(request.now / 1000)) },
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        }),
      );
      return { kind: "fresh", requestId: fresh.requestId, firstStartedAt: fresh.firstStartedAt, attempt };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      existing = error.Item === undefined ? await this.#get(key) : fromItem(error.Item as Item);
    }
    if (existing === undefined) return { kind: "busy", leaseUntil: request.now + 1000 };
    const decision = decide(existing, request.bodyHash, request.now);
    switch (decision.kind) {
      case "mismatch":
        return { kind: "mismatch" };
      case "completed":
        return { kind: "completed", response: existing.response ?? "" };
      case "busy":
        return { kind: "busy", leaseUntil: existing.leaseUntil };
      case "recover":
        try {
          await this.#update(key, existing.attempt, "SET #state = :state, #leaseUntil = :lease, #attempt = :attempt", {
            ":state": s("IN_PROGRESS" satisfies LedgerState),
            ":lease": n(request.leaseUntil),
            ":attempt": s(attempt),
          });
        } catch (error) {
          // Another retry took the entry over between the read and this write.
          if (error instanceof ConditionalCheckFailedException) return { kind: "busy", leaseUntil: request.now + 1000 };
          throw error;
        }
        return { kind: "recover", requestId: existing.requestId, firstStartedAt: existing.firstStartedAt, attempt };
    }
  }

  async complete(key: string, attempt: string, response: string): Promise<boolean> {
    try {
      await this.#update(key, attempt, "SET #state = :state, #response = :response REMOVE #leaseUntil", {
        ":state": s("COMPLETED" satisfies LedgerState),
        ":response": s(response),
      });
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async forget(key: string, attempt: string): Promise<void> {
    try {
      await this.#client.send(
        new DeleteItemCommand({
          TableName: this.#table,
          Key: this.#key(key),
          ConditionExpression: "#attempt = :attempt",
          ExpressionAttributeNames: { "#attempt": A.attempt },
          ExpressionAttributeValues: { ":attempt": s(attempt) },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  async release(key: string, attempt: string, now: number): Promise<void> {
    try {
      await this.#update(key, attempt, "SET #state = :state, #leaseUntil = :now", {
        ":state": s("UNKNOWN" satisfies LedgerState),
        ":now": n(now),
      });
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  async #get(key: string): Promise<LedgerEntry | undefined> {
    const { Item } = await this.#client.send(new GetItemCommand({ TableName: this.#table, Key: this.#key(key), ConsistentRead: true }));
    return Item === undefined ? undefined : fromItem(Item);
  }

  async #update(key: string, attempt: string, expression: string, values: Item): Promise<void> {
    const names: Record<string, string> = { "#attempt": A.attempt };
    for (const [name, attribute] of Object.entries(A)) if (expression.includes(`#${name}`)) names[`#${name}`] = attribute;
    await this.#client.send(
      new UpdateItemCommand({
        TableName: this.#table,
        Key: this.#key(key),
        UpdateExpression: expression,
        ConditionExpression: "#attempt = :expected",
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: { ...values, ":expected": s(attempt) },
      }),
    );
  }

  #key(key: string): Item {
    return { [A.id]: s(`sales#${createHash("sha256").update(key, "utf8").digest("hex")}`) };
  }
}

const s = (value: string): AttributeValue => ({ S: value });
const n = (value: number): AttributeValue => ({ N: String(value) });

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

function fromItem(item: Item): LedgerEntry {
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
