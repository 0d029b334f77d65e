/**
 * @sales-stream-analytics/local-aws: the project's AWS on one machine, without Docker.
 *
 * - The stack: `up()` starts Kafka (KRaft), DynamoDB Local and moto and provisions template.yaml's
 *   resources in them; `down()` stops what it started; `status()` reports each component.
 *   `startTrino()` adds Trino (opt-in) and `trinoQuery()` runs SQL on the lake through the Glue catalog.
 * - The runtime: `LocalRuntime.start()` runs the template's functions as Lambda runs them, behind
 *   the HTTP API, the Kafka and DynamoDB stream event source mappings and Firehose (`npm start`).
 * - One invocation: `invokeFunction(logicalId, event)` (`npm run invoke`).
 * - What code that talks to the stack needs: its clients, endpoints, region and account, and the
 *   template as the stack resolved it (physical names, functions, the resources it does not emulate).
 *
 * Lower-level pieces for tests and benchmarks that build private pipelines or inject faults are
 * in "@sales-stream-analytics/local-aws/testing".
 */

export { invokeFunction } from "./runtime/invoke.ts";
export { type InvocationObserver, type InvocationReport, type InvokeResult, LocalFunction, type LogSink } from "./runtime/lambda.ts";
export { LocalRuntime, type RuntimeOptions } from "./runtime/runtime.ts";
export {
  type FunctionUsage,
  HTTP_API_METERING_BYTES,
  type RouteUsage,
  type TableUsage,
  UsageMeter,
  type UsageSnapshot,
} from "./runtime/usage.ts";
export { localClients } from "./stack/clients.ts";
export { deployedStackContext, localStackContext } from "./stack/context.ts";
export { endpoints, localArn, localAws, paths, ports } from "./stack/settings.ts";
export { down, startTrino, status, type UpResult, up } from "./stack/stack.ts";
export { type TrinoResult, trinoCatalog, trinoQuery } from "./stack/trino.ts";
export { emulatedResourceTypes, skippedResources, type UnemulatedType, unemulatedTypes } from "./template/emulation.ts";
export { type SamFunction, samFunctions } from "./template/functions.ts";
export { physicalName, resolveValue, type StackContext } from "./template/intrinsics.ts";
