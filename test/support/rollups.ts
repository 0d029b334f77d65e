import { type AttributeValue, type DynamoDBClient, QueryCommand } from "@aws-sdk/client-dynamodb";
import { dimensionValues } from "#shared/aggregates/table";
import { tableFigures } from "#test/support/aggregates";

/** Region and overall figures of every rollup in the table: "<window>@<start>" -> value key -> "orders/sales/min/max/late". */
export async function rollupFigures(dynamodb: DynamoDBClient, table: string): Promise<Record<string, Record<string, string>>> {
  const figures: Record<string, Record<string, string>> = {};
  for (const window of ["1m", "10m/5m", "1h", "1d", "all"]) {
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await dynamodb.send(
        new QueryCommand({
          TableName: table,
          KeyConditionExpression: "pk = :pk",
          ExpressionAttributeValues: { ":pk": { S: `series#${window}` } },
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) {
        const values: Record<string, string> = {};
        for (const dimension of ["region", "all"] as const)
          for (const [value, m] of dimensionValues(item, dimension))
            values[`${dimension}#${value}`] = `${m.orders}/${m.sales}/${m.min}/${m.max}/${m.late}`;
        figures[`${window}@${item.sk?.S}`] = values;
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
  }
  return figures;
}

/** What the rollups must hold: the slices' region and overall figures added up, window by window. */
export async function expectedFromSlices(dynamodb: DynamoDBClient, table: string): Promise<Record<string, Record<string, string>>> {
  const expected: Record<string, Record<string, string>> = {};
  for (const [id, values] of Object.entries(await tableFigures(dynamodb, table)))
    expected[id] = Object.fromEntries(Object.entries(values).filter(([key]) => !key.startsWith("country#")));
  return expected;
}
