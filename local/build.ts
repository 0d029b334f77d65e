import { mkdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { localStackContext } from "./stack/context.ts";
import { paths } from "./stack/settings.ts";
import { type SamFunction, samFunctions } from "./template/functions.ts";

/**
 * Bundles one function of template.yaml the way `sam build` does with `BuildMethod: esbuild`,
 * honouring its BuildProperties, into `<outRoot>/<logicalId>/`. Rejects with esbuild's errors.
 */
export async function bundle(fn: SamFunction, outRoot = join(paths.projectRoot, "dist")): Promise<{ file: string; bytes: number }> {
  const props = fn.buildProperties;
  const outdir = join(outRoot, fn.logicalId);
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  const outExtension = props.OutExtension?.[0]?.split("=")[1] ?? ".js";
  await build({
    absWorkingDir: join(paths.projectRoot, fn.codeUri),
    entryPoints: props.EntryPoints ?? [],
    outdir,
    bundle: true,
    platform: "node",
    format: props.Format ?? "esm",
    target: props.Target ?? "node22",
    minify: props.Minify ?? true,
    sourcemap: props.Sourcemap ?? false,
    external: props.External ?? [],
    mainFields: props.MainFields?.split(","),
    outExtension: { ".js": outExtension },
    // ESM bundles that pull in CommonJS dependencies need a require().
    ...((props.Format ?? "esm") === "esm" && {
      banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    }),
    logLevel: "warning",
  });
  const file = join(outdir, `${fn.handlerFile}${outExtension}`);
  return { file, bytes: statSync(file).size };
}

// `npm run build`: every function, with its size.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const functions = samFunctions(localStackContext());
  if (functions.length === 0) console.log("template.yaml declares no functions yet");
  for (const fn of functions) {
    const { file, bytes } = await bundle(fn);
    console.log(`${fn.logicalId.padEnd(28)} ${(bytes / 1024).toFixed(1).padStart(8)} KiB  ${file}`);
  }
}
