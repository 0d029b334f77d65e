import { randomUUID } from "node:crypto";
import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { type Claim, type ClaimRequest, decide, type LedgerEntry, type RequestLedger } from "./ledger.ts";
import {
  claimPut,
  completeUpdate,
  entryGet,
  forgetDelete,
  type Item,
  recoverUpdate,
  releaseUpdate,
  unmarshalLedgerEntry,
} from "./ledger-table.ts";

/**
 * The request ledger in DynamoDB (the IdempotencyTable; ./ledger-table.ts has its layout). Items
 * expire `ttlSeconds` after the first attempt. Constructing it does no I/O and cannot fail; its
 * methods throw the SDK's error when DynamoDB fails (a refused condition is an answer, not thrown).
 */
export function createRequestLedger(client: Pick<DynamoDBClient, "send">, table: string, ttlSeconds: number): RequestLedger {
  const get = async (key: string): Promise<LedgerEntry | undefined> => {
    const { Item } = await client.send(new GetItemCommand(entryGet(table, key)));
    return Item === undefined ? undefined : unmarshalLedgerEntry(Item);
  };
  /** Sends a conditional write; false when its condition failed. */
  const conditional = async (send: () => Promise<unknown>): Promise<boolean> => {
    try {
      await send();
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  };
  return {
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
        await client.send(new PutItemCommand(claimPut(table, key, fresh, request.now, ttlSeconds)));
        return { kind: "fresh", requestId: fresh.requestId, firstStartedAt: fresh.firstStartedAt, attempt };
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
        existing = error.Item === undefined ? await get(key) : unmarshalLedgerEntry(error.Item as Item);
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
        case "recover": {
          const update = recoverUpdate(table, key, existing.attempt, { attempt, leaseUntil: request.leaseUntil });
          // Another retry took the entry over between the read and this write.
          if (!(await conditional(() => client.send(new UpdateItemCommand(update)))))
            return { kind: "busy", leaseUntil: request.now + 1000 };
          return { kind: "recover", requestId: existing.requestId, firstStartedAt: existing.firstStartedAt, attempt };
        }
      }
    },
    complete: (key, attempt, response) =>
      conditional(() => client.send(new UpdateItemCommand(completeUpdate(table, key, attempt, response)))),
    async forget(key, attempt) {
      await conditional(() => client.send(new DeleteItemCommand(forgetDelete(table, key, attempt))));
    },
    async release(key, attempt, now) {
      await conditional(() => client.send(new UpdateItemCommand(releaseUpdate(table, key, attempt, now))));
    },
  };
}
