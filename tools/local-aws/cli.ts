import { relative } from "node:path";
import { parseArgs } from "node:util";
import { LocalRuntime } from "./runtime/runtime.ts";
import { localStackContext } from "./stack/context.ts";
import { developerEnvFile } from "./stack/identities.ts";
import { installCheckov, installChromium, installSamCli, installStack, installTrino } from "./stack/install.ts";
import { assertPrerequisites } from "./stack/prerequisites.ts";
import { localAws, paths } from "./stack/settings.ts";
import { down, status, type UpResult, up } from "./stack/stack.ts";
import { trinoQuery } from "./stack/trino.ts";
import { skippedReport } from "./template/emulation.ts";
import { physicalName, stackOutput } from "./template/intrinsics.ts";

const usage = `Usage: tsx tools/local-aws/cli.ts <command>

  setup                 download Kafka, DynamoDB Local, Trino (Maven Central), moto, the SAM CLI and checkov (PyPI) into ${paths.cacheRoot};
                        install Debian's chromium (apt-get, as root) for the dashboard's browser test
  start [--trino]       bring the stack up, stay in the foreground, stop it on Ctrl-C   (npm start)
  stack up [--keep-data] [--trino]
                        bring the stack up in the background and return; --trino starts Trino too (SQL on the lake)
  stack down            stop what the stack started (by pid)
  stack status          pid, health and memory of each component
  stack output <key>    a template output as the local stack names it (LakeBucketName, LakeTable, ...)
  stack sql "<query>"   run SQL on the lake in the local Trino (stack up --trino first), in the template's lake database
`;

async function printUp(result: UpResult): Promise<void> {
  console.log(`Local stack ready in ${result.seconds.toFixed(1)} s (region ${localAws.region}, account ${localAws.accountId})`);
  for (const c of await status()) {
    const memory = c.residentMiB === undefined ? "" : `${c.residentMiB} MiB`;
    console.log(
      `  ${c.name.padEnd(10)} ${c.endpoint.padEnd(26)} pid ${String(c.pid ?? "-").padEnd(8)} ${memory.padEnd(9)} ${result.states[c.name] ?? ""}`,
    );
  }
  console.log(`  resources: ${result.resources.created.length} created, ${result.resources.existing.length} already there`);
  for (const name of result.resources.created) console.log(`    + ${name}`);
  for (const line of skippedReport(result.skipped)) console.log(`  ${line}`);
  console.log(`  logs: ${paths.logs}`);
  console.log(`  AWS CLI and SDK against moto (S3, SQS, Glue): . ${relative(process.cwd(), developerEnvFile)} (the stack's admin keys)`);
}

async function main(argv: string[]): Promise<void> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      "keep-data": { type: "boolean", default: false },
      trino: { type: "boolean", default: false },
      help: { type: "boolean", short: "h" },
    },
  });
  const [command, sub] = positionals;
  if (values.help === true || command === undefined) {
    console.log(usage);
    return;
  }
  switch (command) {
    case "setup":
      assertPrerequisites();
      await installStack();
      // Setup (npm test, CI) also fetches the SAM CLI, checkov and Trino, so the sam build, template
      // scan and lake SQL tests never wait on a download (each is mostly network wait).
      await Promise.all([installSamCli(), installCheckov(), installTrino()]);
      // The dashboard's browser test needs it; without root it cannot be installed from here,
      // and that test alone fails, naming how to install it.
      await installChromium().catch((error: Error) => console.error(`warning: ${error.message}`));
      console.error(`Local stack downloads are in ${paths.cacheRoot}`);
      return;
    case "stack":
      if (sub === "up") {
        await printUp(await up({ keepData: values["keep-data"], trino: values.trino }));
      } else if (sub === "down") {
        const stopped = await down();
        console.log(stopped.length > 0 ? `stopped: ${stopped.join(", ")}` : "nothing of this stack was running");
      } else if (sub === "output") {
        console.log(stackOutput(localStackContext(), positionals[2] ?? ""));
      } else if (sub === "status") {
        for (const c of await status()) {
          console.log(
            `${c.name.padEnd(10)} ${c.endpoint.padEnd(26)} ${c.pid === undefined ? "stopped" : `pid ${c.pid} ${c.healthy ? "healthy" : "UNHEALTHY"} ${c.residentMiB ?? "?"} MiB`}`,
          );
        }
      } else if (sub === "sql" && positionals[2] !== undefined) {
        // The lake's database as Athena's query context names it: unqualified table names read as in Athena.
        const result = await trinoQuery(positionals[2], { schema: physicalName(localStackContext(), "LakeDatabase") });
        console.log(result.columns.map((c) => c.name).join("\t"));
        for (const row of result.rows) console.log(row.map((value) => (value === null ? "NULL" : String(value))).join("\t"));
      } else {
        throw new Error(`unknown stack command "${sub ?? ""}"\n${usage}`);
      }
      return;
    case "start":
      await startForeground(values["keep-data"], values.trino);
      return;
    default:
      throw new Error(`unknown command "${command}"\n${usage}`);
  }
}

/** `npm start`: the stack in the foreground; Ctrl-C (or SIGTERM) stops everything it started. */
async function startForeground(keepData: boolean, trino: boolean): Promise<void> {
  let stopping = false;
  let runtime: LocalRuntime | undefined;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping the local stack ...`);
    await runtime?.stop();
    const stopped = await down();
    console.log(`stopped: ${stopped.join(", ") || "nothing"}`);
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
  try {
    await printUp(await up({ keepData, trino }));
    runtime = await LocalRuntime.start();
  } catch (error) {
    await runtime?.stop();
    await down();
    throw error;
  }
  console.log(`HTTP API on ${runtime.apiUrl}`);
  for (const route of runtime.routes) console.log(`  ${route.method.padEnd(6)} ${runtime.apiUrl}${route.path}  -> ${route.functionId}`);
  if (runtime.routes.some((route) => route.method === "GET" && route.path === "/")) console.log(`Dashboard: open ${runtime.apiUrl}/`);
  for (const { mapping } of runtime.mappings) {
    console.log(
      `MSK ${mapping.topics.join(",")} -> ${mapping.functionId} (group ${mapping.consumerGroupId}, batch ${mapping.batchSize}, window ${mapping.batchingWindowMs} ms)`,
    );
  }
  for (const { mapping, streamArn } of runtime.streamMappings) {
    console.log(
      `DynamoDB stream ${streamArn} -> ${mapping.functionId} (${mapping.startingPosition}, batch ${mapping.batchSize}, window ${mapping.batchingWindowMs} ms, ${mapping.filters.length} filter(s))`,
    );
  }
  console.log("Press Ctrl-C to stop.");
  // Keep the event loop alive until a signal arrives.
  setInterval(() => undefined, 1 << 30);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
