import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { describe, expect, it } from "vitest";
import { createRequestLedger } from "#functions/ingest/dynamodb-store";

type Item = Record<string, AttributeValue>;
const failed = (item?: Item) =>
  new ConditionalCheckFailedException({ message: "The conditional request failed", $metadata: {}, Item: item });

/**
 * One table in memory that evaluates the ledger's own condition expressions (attempt token,
 * absent or expired item) and SET/REMOVE updates, as DynamoDB would for these commands.
 */
function table({ returnOldItem = true } = {}) {
  const items = new Map<string, Item>();
  const client = new DynamoDBClient({ region: "eu-west-1" });
  const db = mockClient(client);
  const answer = (name: string, given: object) => {
    const input = given as {
      Key?: Item;
      Item?: Item;
      UpdateExpression?: string;
      ExpressionAttributeNames?: Record<string, string>;
      ExpressionAttributeValues?: Item;
    };
    const id = (input.Key ?? input.Item)?.id?.S ?? "";
    const existing = items.get(id);
    const values = input.ExpressionAttributeValues ?? {};
    const attemptMatches = existing !== undefined && existing.attempt?.S === values[":expected"]?.S;
    switch (name) {
      case "PutItemCommand": {
        const expired = existing !== undefined && Number(existing.expiration?.N) < Number(values[":nowSeconds"]?.N);
        if (existing !== undefined && !expired) throw failed(returnOldItem ? existing : undefined);
        items.set(id, { ...(input.Item as Item) });
        return {};
      }
      case "UpdateItemCommand": {
        if (!attemptMatches) throw failed();
        const item = { ...(existing as Item) };
        const [set = "", remove = ""] = (input.UpdateExpression ?? "").replace(/^SET\s+/, "").split(/\s+REMOVE\s+/);
        for (const assignment of set.split(",")) {
          const [name = "", value = ""] = assignment.split("=").map((part) => part.trim());
          item[input.ExpressionAttributeNames?.[name] ?? name] = values[value] as AttributeValue;
        }
        for (const name of remove.split(",").filter(Boolean)) delete item[input.ExpressionAttributeNames?.[name.trim()] ?? name.trim()];
        items.set(id, item);
        return {};
      }
      case "DeleteItemCommand":
        if (existing?.attempt?.S !== values[":attempt"]?.S) throw failed();
        items.delete(id);
        return {};
      default:
        return { Item: existing };
    }
  };
  db.on(PutItemCommand).callsFake((input) => answer("PutItemCommand", input));
  db.on(UpdateItemCommand).callsFake((input) => answer("UpdateItemCommand", input));
  db.on(DeleteItemCommand).callsFake((input) => answer("DeleteItemCommand", input));
  db.on(GetItemCommand).callsFake((input) => answer("GetItemCommand", input));
  return { ledger: createRequestLedger(client, "ledger", 3600), items, db };
}

const NOW = 1_700_000_000_000;
const claimAt = (now: number, bodyHash = "h1") => ({ bodyHash, now, leaseUntil: now + 20_000 });

describe("the request ledger in DynamoDB", () => {
  it("claims a new key afresh, stores no key text, and answers a completed key with its 202", async () => {
    const { ledger, items } = table();
    const fresh = await ledger.claim("till-42/abc", claimAt(NOW));
    expect(fresh).toMatchObject({ kind: "fresh", firstStartedAt: NOW });
    const [id] = [...items.keys()];
    expect(id).toMatch(/^sales#[0-9a-f]{64}$/);
    expect(JSON.stringify([...items.values()])).not.toContain("till-42");
    expect(items.get(id as string)?.expiration).toEqual({ N: String(NOW / 1000 + 3600) });
    if (fresh.kind !== "fresh") throw new Error("expected fresh");
    expect(await ledger.complete("till-42/abc", fresh.attempt, '{"accepted":1}')).toBe(true);
    expect(await ledger.claim("till-42/abc", claimAt(NOW + 1000))).toEqual({ kind: "completed", response: '{"accepted":1}' });
    expect(await ledger.claim("till-42/abc", claimAt(NOW + 1000, "h2"))).toEqual({ kind: "mismatch" });
  });

  it("answers busy while the lease is live, and lets a retry recover once it ends or after a release", async () => {
    const { ledger } = table();
    const first = await ledger.claim("k", claimAt(NOW));
    if (first.kind !== "fresh") throw new Error("expected fresh");
    expect(await ledger.claim("k", claimAt(NOW + 5000))).toEqual({ kind: "busy", leaseUntil: NOW + 20_000 });
    const recovered = await ledger.claim("k", claimAt(NOW + 21_000));
    expect(recovered).toMatchObject({ kind: "recover", requestId: first.requestId, firstStartedAt: NOW });
    // The first attempt lost its hold: it can no longer complete.
    expect(await ledger.complete("k", first.attempt, "{}")).toBe(false);
    if (recovered.kind !== "recover") throw new Error("expected recover");
    await ledger.release("k", recovered.attempt, NOW + 22_000);
    expect(await ledger.claim("k", claimAt(NOW + 22_001))).toMatchObject({ kind: "recover", requestId: first.requestId });
  });

  it("forgets a fresh attempt that wrote nothing (the next one is fresh), and only its own", async () => {
    const { ledger } = table({ returnOldItem: false });
    const first = await ledger.claim("k", claimAt(NOW));
    if (first.kind !== "fresh") throw new Error("expected fresh");
    await ledger.forget("k", "someone-else");
    // Without the old item on the failed condition, the ledger reads it.
    expect(await ledger.claim("k", claimAt(NOW + 1))).toMatchObject({ kind: "busy" });
    await ledger.forget("k", first.attempt);
    expect(await ledger.claim("k", claimAt(NOW + 2))).toMatchObject({ kind: "fresh" });
  });

  it("treats an expired item as absent, and passes DynamoDB's failures on", async () => {
    const { ledger } = table();
    await ledger.claim("k", claimAt(NOW));
    expect(await ledger.claim("k", claimAt(NOW + 3601 * 1000))).toMatchObject({ kind: "fresh" });
    const broken = new DynamoDBClient({ region: "eu-west-1" });
    mockClient(broken)
      .onAnyCommand()
      .rejects(Object.assign(new Error("ProvisionedThroughputExceeded"), { name: "ProvisionedThroughputExceededException" }));
    await expect(createRequestLedger(broken, "ledger", 60).claim("k", claimAt(NOW))).rejects.toThrow("ProvisionedThroughputExceeded");
  });
});
