import { mockClient } from "aws-sdk-client-mock";

/** What mockClient takes: an SDK client instance (or class). */
type SdkClient = Parameters<typeof mockClient>[0];

/**
 * aws-sdk-client-mock on one client instance, refusing every command the test has not scripted
 * with `mock.on(Command)`: a call the code should not make fails loudly instead of answering
 * `undefined`. Read what was sent with `mock.commandCalls(Command)`.
 */
export function scriptedClient<C extends SdkClient>(client: C) {
  const mock = mockClient(client);
  mock.onAnyCommand().rejects(new Error(`the ${mock.clientName()} fake was sent a command its test did not script`));
  return { client, mock };
}

/** The name of each command a mock was sent, in order (`GetItemCommand`, ...). */
export function commandNames(mock: ReturnType<typeof mockClient>): string[] {
  return mock.calls().map((call) => (call.args[0] as object).constructor.name);
}
