// The Glue Schema Registry as an entry point of its own, loaded on first need: the same as
// functions/aggregate/glue-registry.ts, which says why (template.yaml builds one per function).
export { glueSchemaRegistry } from "#shared/clients/schema-registry";
