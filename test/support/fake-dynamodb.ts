import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";

/** A command as a fake client saw it: the command class's name and its input. */
export type Sent = { name: string; input: Record<string, unknown> };

/** A DynamoDB client whose answers a test scripts (an Error answer is thrown), recording every command sent. */
export function fakeDynamoClient(answer: (command: Sent) => unknown) {
  const sent: Sent[] = [];
  const client = {
    send: async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
      const call = { name: command.constructor.name, input: command.input };
      sent.push(call);
      const result = answer(call);
      if (result instanceof Error) throw result;
      return result;
    },
  } as unknown as DynamoDBClient;
  return { client, sent };
}
