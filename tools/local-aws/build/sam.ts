import { type SpawnSyncReturns, spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { installSamCli } from "../stack/install.ts";
import { paths } from "../stack/settings.ts";

/**
 * Runs the AWS SAM CLI (installed into the project's virtualenv on first use) in the project
 * folder, with this checkout's Node 22, npm and esbuild first on PATH: `sam build` with
 * BuildMethod esbuild runs them natively, no Docker. Throws only when the CLI cannot be installed.
 */
export async function runSam(
  args: readonly string[],
  options: { readonly stdio?: "inherit" | "pipe"; readonly timeoutMs?: number } = {},
): Promise<SpawnSyncReturns<string>> {
  const sam = await installSamCli();
  const nodeBin = join(paths.projectRoot, "node_modules", ".bin");
  return spawnSync(sam, args, {
    cwd: paths.projectRoot,
    stdio: options.stdio ?? "pipe",
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
    ...(options.timeoutMs !== undefined && { timeout: options.timeoutMs }),
    env: { ...process.env, PATH: `${nodeBin}:${dirname(process.execPath)}:${process.env.PATH ?? ""}`, SAM_CLI_TELEMETRY: "0" },
  });
}
