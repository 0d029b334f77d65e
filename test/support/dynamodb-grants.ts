import { localStackContext } from "@sales-stream-analytics/local-aws";
import { functionPolicyStatements } from "@sales-stream-analytics/local-aws/testing";

/**
 * The IAM action each DynamoDB request needs (DynamoDB's "actions, resources and condition keys"
 * page: TransactGetItems is authorised per item as dynamodb:GetItem, TransactWriteItems per item
 * as the write it holds). DynamoDB Local enforces no IAM, so a store's unit test checks here that
 * what it sends is what the function's template policy grants; a request missing from this map
 * fails the check until it is added.
 */
const actionsOf: Readonly<Record<string, readonly string[]>> = {
  BatchGetItemCommand: ["dynamodb:BatchGetItem"],
  BatchWriteItemCommand: ["dynamodb:BatchWriteItem"],
  GetItemCommand: ["dynamodb:GetItem"],
  PutItemCommand: ["dynamodb:PutItem"],
  UpdateItemCommand: ["dynamodb:UpdateItem"],
  DeleteItemCommand: ["dynamodb:DeleteItem"],
  QueryCommand: ["dynamodb:Query"],
  ScanCommand: ["dynamodb:Scan"],
  TransactGetItemsCommand: ["dynamodb:GetItem"],
  TransactWriteItemsCommand: ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem"],
};

/** The DynamoDB actions `logicalId`'s template policy allows (on any of its resources). */
export function grantedDynamoDbActions(logicalId: string): Set<string> {
  return new Set(
    functionPolicyStatements(localStackContext(), logicalId)
      .filter((statement) => statement.Effect === "Allow")
      .flatMap((statement) => statement.Action)
      .filter((action) => action.startsWith("dynamodb:")),
  );
}

/**
 * The requests the stubs saw that `logicalId`'s policy does not grant, as "Command: action". A
 * TransactWriteItems is checked for the writes it holds. `operatorOnly` names commands of the
 * store that only a tool run with an operator's credentials sends (a backfill's Scan).
 */
export function ungrantedDynamoDbRequests(
  logicalId: string,
  stubs: readonly { calls(): { args: readonly unknown[] }[] }[],
  operatorOnly: readonly string[] = [],
): string[] {
  const granted = grantedDynamoDbActions(logicalId);
  const missing = new Set<string>();
  for (const stub of stubs)
    for (const call of stub.calls()) {
      const command = call.args[0] as { constructor: { name: string }; input: Record<string, unknown> };
      const name = command.constructor.name;
      if (operatorOnly.includes(name)) continue;
      const needed =
        name === "TransactWriteItemsCommand"
          ? ((command.input.TransactItems ?? []) as Record<string, unknown>[]).flatMap((item) =>
              Object.keys(item).map((kind) => `dynamodb:${kind === "ConditionCheck" ? "ConditionCheckItem" : `${kind}Item`}`),
            )
          : (actionsOf[name] ?? [`(no IAM action known for ${name})`]);
      for (const action of needed) if (!granted.has(action)) missing.add(`${name}: ${action}`);
    }
  return [...missing].sort();
}
