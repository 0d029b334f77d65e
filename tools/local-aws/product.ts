/**
 * What the emulator takes from the project it emulates AWS for, in one place. The Firehose
 * emulator converts records to Parquet with the project's exact-number JSON, decimal and SQL
 * timestamp readers (what the Glue table's types mean to the lake); provisioning creates topics
 * with the kafka-topics function's own code; the mappings back off as the functions do.
 *
 * Relative paths, because a workspace package's "imports" map cannot point outside the package;
 * this file is the one place the package reaches into the project's shared/.
 */

export { parseJsonKeepingNumbers } from "../../shared/json/exact-numbers.ts";
export { ensureTopics, parseTopicSpecs, type TopicSpec } from "../../shared/kafka/topics.ts";
export { parseDecimal } from "../../shared/money/decimal.ts";
export { exponentialDelay } from "../../shared/retry/backoff.ts";
export { parseSqlTimestamp } from "../../shared/time/sql-timestamp.ts";
