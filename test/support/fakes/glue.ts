import { EntityNotFoundException, GetSchemaByDefinitionCommand, GetSchemaVersionCommand, GlueClient } from "@aws-sdk/client-glue";
import { scriptedClient } from "./aws.ts";

/** Glue's answer to an id it does not hold. */
export const glueNotFound = () => new EntityNotFoundException({ message: "Schema version is not found.", $metadata: {} });
/** Glue's answer when the registry throttles. */
export const glueThrottled = () => Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" });

/**
 * A Glue Schema Registry holding `versions` (id -> schema; the last one given is the latest), as
 * a mocked GlueClient: GetSchemaVersion by id or latest, GetSchemaByDefinition; any other command
 * is refused. `state.down` makes every call fail as a throttled registry does.
 */
export function glueRegistry(versions: Readonly<Record<string, unknown>>) {
  const { client, mock } = scriptedClient(new GlueClient({}));
  const state = { down: false };
  const answer =
    <I, O>(reply: (input: I) => O) =>
    async (input: I) => {
      if (state.down) throw glueThrottled();
      return reply(input);
    };
  mock.on(GetSchemaVersionCommand).callsFake(
    answer((input: { SchemaVersionId?: string; SchemaVersionNumber?: { LatestVersion?: boolean } }) => {
      const id = input.SchemaVersionNumber?.LatestVersion === true ? (Object.keys(versions).at(-1) ?? "") : String(input.SchemaVersionId);
      const schema = versions[id];
      if (schema === undefined) throw glueNotFound();
      return { SchemaVersionId: id, SchemaDefinition: JSON.stringify(schema), DataFormat: "AVRO", Status: "AVAILABLE", VersionNumber: 1 };
    }),
  );
  mock.on(GetSchemaByDefinitionCommand).callsFake(
    answer((input: { SchemaDefinition?: string }) => {
      const id = Object.keys(versions).find((key) => JSON.stringify(versions[key]) === input.SchemaDefinition);
      if (id === undefined) throw glueNotFound();
      return { SchemaVersionId: id, Status: "AVAILABLE", DataFormat: "AVRO" };
    }),
  );
  return { client, mock, state };
}
