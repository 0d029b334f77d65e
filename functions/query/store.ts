import { type AttributeValue, type DynamoDBClient, GetItemCommand, QueryCommand, type QueryCommandOutput } from "@aws-sdk/client-dynamodb";
import { SERIES_INDEX, seriesKey, unmarshalWindow, type WindowItem, windowKey } from "#shared/aggregates/model";
import type { QueryStore } from "./query.ts";

/** The aggregates table as the query API reads it. */
export function dynamoQueryStore(client: DynamoDBClient, table: string, topic: string): QueryStore {
  async function queryAll(input: ConstructorParameters<typeof QueryCommand>[0]): Promise<Record<string, AttributeValue>[]> {
    const items: Record<string, AttributeValue>[] = [];
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page: QueryCommandOutput = await client.send(new QueryCommand({ ...input, ExclusiveStartKey: startKey }));
      items.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return items;
  }

  return {
    async getWindow(window, start) {
      const { Item } = await client.send(new GetItemCommand({ TableName: table, Key: windowKey(window, start) }));
      return Item === undefined ? undefined : unmarshalWindow(Item);
    },
    async windowsInRange(window, fromStart, toStart): Promise<WindowItem[]> {
      const items = await queryAll({
        TableName: table,
        IndexName: SERIES_INDEX,
        KeyConditionExpression: "gpk = :w AND gsk BETWEEN :from AND :to",
        ExpressionAttributeValues: {
          ":w": { S: window },
          ":from": { S: seriesKey(window, fromStart).gsk },
          ":to": { S: seriesKey(window, toStart).gsk },
        },
      });
      return items.map(unmarshalWindow);
    },
    async watermarks() {
      const items = await queryAll({
        TableName: table,
        KeyConditionExpression: "pk = :pk",
        ExpressionAttributeValues: { ":pk": { S: `watermark#${topic}` } },
        ConsistentRead: true,
      });
      return new Map(items.map((item) => [Number(item.sk?.S), Number(item.wm?.N)]));
    },
  };
}
