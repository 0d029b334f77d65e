/**
 * The local stack's parts, for tests and benchmarks that need more than the public entry point:
 * mappings and Firehose run on private topics and tables, a component stopped and started to
 * inject an outage, the functions' identities and bundles, the checkers' virtualenvs. Everything
 * here is a building block of `LocalRuntime` or `up()`; the contracts are on each export.
 */
export { type BundleComposition, bundleComposition, bundleOf } from "./build/bundle.ts";
export { runSam } from "./build/sam.ts";
export { type AlarmEvaluation, type AlarmProperties, type AlarmState, evaluateAlarm } from "./runtime/alarms.ts";
export {
  DynamoDbStreamEventSourceMapping,
  type DynamoDbStreamMapping,
  dynamoDbStreamMappings,
  type StreamBatchTiming,
} from "./runtime/dynamodb-stream.ts";
export { localEnvironment } from "./runtime/environment.ts";
export type { Invokable, RetryBackoff } from "./runtime/esm-core.ts";
export { expandPrefix, FirehoseEmulator, firehoseStreams, toParquet } from "./runtime/firehose.ts";
export {
  INFINITE_WITH_DESTINATION_RETRIES,
  type KafkaBatchTiming,
  KafkaEventSourceMapping,
  type MskMapping,
  mskMappings,
} from "./runtime/kafka-esm.ts";
export {
  type ConnectionCounts,
  KafkaApiKey,
  KafkaClusterProxy,
  type KafkaClusterProxyOptions,
  type ProxiedConnection,
} from "./runtime/kafka-proxy.ts";
export {
  consumedUnits,
  type DynamoDbCall,
  type MeteringProxy,
  type ServiceCall,
  s3Operation,
  signedService,
  startDynamoDbMeter,
  startServiceMeter,
} from "./runtime/metering-proxy.ts";
export { type Datapoint, MetricSink } from "./runtime/metrics.ts";
export { type MskGroupWatch, MskMetricsEmulator } from "./runtime/msk-metrics.ts";
export {
  type AccessKeys,
  adminCredentialProvider,
  adminCredentials,
  developerEnvFile,
  functionCredentials,
  statementsWith,
  type TemporaryIdentity,
  temporaryIdentity,
} from "./stack/identities.ts";
export { chromiumCommand, installChromium, venvBin } from "./stack/install.ts";
export { freezeProcess, runningPid, stopProcess } from "./stack/processes.ts";
export { componentNamed, startComponent } from "./stack/stack.ts";
export { functionPolicyStatements, type PolicyStatement } from "./template/iam.ts";
export { generatedName, resourceEnabled, stackIdOf } from "./template/intrinsics.ts";
export { declaredTopics, tableInput } from "./template/provision.ts";
