/**
 * The Glue Schema Registry as an entry point of its own: template.yaml builds it beside handler.js
 * and leaves it out of the handler's bundle (External), and wiring.ts imports it for the first
 * record of a schema version other than the deployment's, so a cold start neither parses nor
 * evaluates the Glue client. Its errors are this bundle's copies of the codec's classes: the
 * importer takes them through asLocalRegistryError (shared/avro/errors.ts).
 */
export { glueSchemaRegistry } from "#shared/clients/schema-registry";
