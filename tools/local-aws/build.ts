import { bundleOf } from "./build/bundle.ts";
import { localStackContext } from "./stack/context.ts";
import { samFunctions } from "./template/functions.ts";

/**
 * `npm run build`: bundles every function of template.yaml the way `sam build` does with
 * `BuildMethod: esbuild` (its BuildProperties), into .local/build/, and prints each bundle's
 * size. The local runtime runs these same bundles; a build is reused until an input changes.
 */
const functions = samFunctions(localStackContext());
if (functions.length === 0) console.log("template.yaml declares no functions yet");
for (const fn of functions) {
  const bundle = await bundleOf(fn);
  console.log(
    `${fn.logicalId.padEnd(28)} ${(bundle.bytes / 1024).toFixed(1).padStart(8)} KiB  ${bundle.cached ? "cached" : "built "}  ${bundle.file}`,
  );
}
