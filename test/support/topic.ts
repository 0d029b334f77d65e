import { randomUUID } from "node:crypto";
import type { Kafka, KafkaMessage } from "kafkajs";

/** Sum of the high watermarks of a topic: how many records it has ever taken. */
export async function topicEndOffset(kafka: Kafka, topic: string): Promise<bigint> {
  return (await endOffsets(kafka, topic)).reduce((sum, partition) => sum + partition.end, 0n);
}

export interface ReadRecord {
  readonly partition: number;
  readonly offset: string;
  readonly message: KafkaMessage;
}

/**
 * Reads the topic from the beginning with a fresh group, as read_committed (kafkajs' default)
 * unless `readUncommitted`. It reads at least every record below the end offsets taken when it
 * starts, however long that takes (up to `catchUpMs`, then it throws naming the partitions
 * behind), so a slow reader never returns fewer records than the topic held. It stops early
 * once `until` holds for what was read; otherwise it goes on until `lingerMs` after its start,
 * only to catch records that land later (late copies for the "exactly N" checks).
 *
 * The end offsets come from the admin client, which asks as read_committed: on a topic with no
 * open transaction that is the high watermark, what a read_uncommitted reader reaches too.
 */
export async function readTopic(
  kafka: Kafka,
  topic: string,
  keep: (message: KafkaMessage) => boolean,
  until: (records: ReadRecord[]) => boolean,
  lingerMs = 20_000,
  readUncommitted = false,
  catchUpMs = 180_000,
): Promise<ReadRecord[]> {
  const started = Date.now();
  const behind = new Map((await endOffsets(kafka, topic)).filter((p) => p.end > p.low).map((p) => [p.partition, p.end]));
  const consumer = kafka.consumer({ groupId: `test-reader-${randomUUID()}`, readUncommitted });
  const records: ReadRecord[] = [];
  const timers: NodeJS.Timeout[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  try {
    await new Promise<void>((resolve, reject) => {
      const caughtUp = () => {
        clearTimeout(catchUpTimer);
        timers.push(setTimeout(resolve, Math.max(0, started + lingerMs - Date.now())));
      };
      const catchUpTimer = setTimeout(() => {
        const lagging = [...behind].map(([partition, end]) => `${partition} (end ${end})`).join(", ");
        reject(new Error(`reading ${topic}: partitions ${lagging} not read up to their end offsets after ${catchUpMs} ms`));
      }, catchUpMs);
      timers.push(catchUpTimer);
      if (behind.size === 0) caughtUp();
      // Progress is taken from END_BATCH_PROCESS, which kafkajs emits also for a fetch that holds
      // only transaction markers or aborted records (eachBatch never sees those); its lastOffset
      // counts them too, as they take offsets.
      consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
        const end = behind.get(payload.partition);
        if (end !== undefined && BigInt(payload.lastOffset) + 1n >= end) {
          behind.delete(payload.partition);
          if (behind.size === 0) caughtUp();
        }
      });
      void consumer
        .run({
          eachBatch: async ({ batch }) => {
            for (const message of batch.messages) {
              if (keep(message)) records.push({ partition: batch.partition, offset: message.offset, message });
              if (until(records)) return resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    for (const timer of timers) clearTimeout(timer);
    await consumer.disconnect();
  }
  return records;
}

async function endOffsets(kafka: Kafka, topic: string) {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.map((p) => ({ partition: p.partition, low: BigInt(p.low), end: BigInt(p.high) }));
  } finally {
    await admin.disconnect();
  }
}
