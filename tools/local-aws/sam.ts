import { runSam } from "./build/sam.ts";

/**
 * `npm run sam -- <args>`: the AWS SAM CLI without a global install (`npm run sam -- build`),
 * installed into the project's own virtualenv on first use. Exits with sam's exit code.
 */
const run = await runSam(process.argv.slice(2), { stdio: "inherit" });
process.exit(run.status ?? 1);
