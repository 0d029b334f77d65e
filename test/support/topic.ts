import { randomUUID } from "node:crypto";
import type { Kafka, KafkaMessage } from "kafkajs";

/** Sum of the high watermarks of a topic: how many records it has ever taken. */
export async function topicEndOffset(kafka: Kafka, topic: string): Promise<bigint> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((sum, partition) => sum + BigInt(partition.high), 0n);
  } finally {
    await admin.disconnect();
  }
}

export interface ReadRecord {
  readonly partition: number;
  readonly offset: string;
  readonly message: KafkaMessage;
}

/**
 * Reads the topic from the beginning with a fresh group until `until` holds for what was read,
 * or the timeout. Reads committed records only (kafkajs' default), unless `readUncommitted`.
 */
export async function readTopic(
  kafka: Kafka,
  topic: string,
  keep: (message: KafkaMessage) => boolean,
  until: (records: ReadRecord[]) => boolean,
  timeoutMs = 20_000,
  readUncommitted = false,
): Promise<ReadRecord[]> {
  const consumer = kafka.consumer({ groupId: `test-reader-${randomUUID()}`, readUncommitted });
  const records: ReadRecord[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  try {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          if (keep(message)) records.push({ partition, offset: message.offset, message });
          if (until(records)) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return records;
}
