import { randomUUID } from "node:crypto";
import { LocalRuntime, localClients, localStackContext, samFunctions } from "@sales-stream-analytics/local-aws";
import { type DynamoDbStreamEventSourceMapping, KafkaEventSourceMapping, mskMappings } from "@sales-stream-analytics/local-aws/testing";
import { createPrivateAggregatesTable } from "./aggregates.ts";
import { startStreamMapping } from "./streams.ts";

/** The whole live path (POST /sales -> topic -> aggregates -> rollups -> query API and page) on a test's own topic and table. */
export interface PrivatePipeline {
  readonly runtime: LocalRuntime;
  readonly topic: string;
  readonly table: string;
  /** Stops the mappings and the runtime, deletes the topic and the table. */
  stop(): Promise<void>;
}

/**
 * Runs the template's functions as `npm start` does, but on a fresh topic (the template's
 * partition count) and aggregates table, with the aggregate mapping and the rollup's stream
 * mapping pointed at them: a test owns every figure it reads, and nothing it posts reaches the
 * topic or tables that `npm start` serves. Throws when Kafka or DynamoDB Local refuses.
 */
export async function startPrivatePipeline({ partitions = 6 }: { partitions?: number } = {}): Promise<PrivatePipeline> {
  const clients = localClients();
  const id = randomUUID().slice(0, 8);
  const topic = `test-sales-${id}`;
  const admin = clients.kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
  const table = await createPrivateAggregatesTable(clients.dynamodb);
  const count = String(partitions);
  const runtime = await LocalRuntime.start({
    apiPort: 0,
    eventSources: false,
    log: () => undefined,
    env: {
      IngestFunction: { SALES_TOPIC: topic },
      AggregateFunction: { AGGREGATES_TABLE: table.name },
      QueryFunction: { AGGREGATES_TABLE: table.name, SALES_TOPIC: topic, SALES_TOPIC_PARTITIONS: count },
      RollupFunction: { AGGREGATES_TABLE: table.name, SALES_TOPIC_PARTITIONS: count },
    },
  });
  const template = mskMappings(samFunctions(localStackContext())).find((m) => m.functionId === "AggregateFunction");
  if (template === undefined) throw new Error("template.yaml has no MSK event on AggregateFunction");
  const aggregate = new KafkaEventSourceMapping(
    { ...template, topics: [topic], consumerGroupId: `${topic}-aggregate` },
    runtime.fn("AggregateFunction"),
    clients.kafka,
    clients.sqs,
    () => undefined,
  );
  await aggregate.start();
  let rollup: DynamoDbStreamEventSourceMapping | undefined;
  try {
    rollup = await startStreamMapping("RollupFunction", table.name, runtime.fn("RollupFunction"), clients);
  } catch (error) {
    await aggregate.stop();
    await runtime.stop();
    throw error;
  }
  return {
    runtime,
    topic,
    table: table.name,
    async stop() {
      await Promise.all([aggregate.stop(), rollup?.stop()]);
      await runtime.stop();
      const cleanup = clients.kafka.admin();
      await cleanup.connect();
      try {
        await cleanup.deleteTopics({ topics: [topic] });
      } finally {
        await cleanup.disconnect();
      }
      await table.drop();
    },
  };
}
