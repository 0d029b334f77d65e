import { basename } from "node:path";
import { localStackContext, samFunctions } from "@sales-stream-analytics/local-aws";
import { bundleComposition } from "@sales-stream-analytics/local-aws/testing";
import { describe, expect, it } from "vitest";

// What template.yaml leaves out of a bundle (BuildProperties.External) is not in that bundle. A
// package left out is not in the deployment package either: on Lambda a load of it would get the
// runtime's own SDK, a version no test ran, so the template leaves out only what Lambda never
// loads (behind an import() on a path Lambda does not take). A relative path left out is another
// entry point of the same function, built beside the handler. Nothing left out loads at init. The bundles
// integration test loads each bundle alone, without node_modules, and invokes it.
const functions = samFunctions(localStackContext());
const withExternals = functions.filter((fn) => (fn.buildProperties.External ?? []).length > 0);

describe("what template.yaml leaves out of the bundles (External)", () => {
  for (const fn of withExternals) {
    it(`${fn.logicalId} loads none of it while its bundle loads`, { timeout: 60_000 }, async () => {
      const { externals } = await bundleComposition(fn);
      expect(externals.length, `${fn.logicalId} declares External but its bundle leaves nothing out`).toBeGreaterThan(0);
      expect(externals.filter((imp) => imp.atInit)).toEqual([]);
      const entryFiles = (fn.buildProperties.EntryPoints ?? []).map((entry) => `./${basename(entry).replace(/\.ts$/, ".js")}`);
      const beside = fn.buildProperties.External?.filter((name) => name.startsWith(".")) ?? [];
      for (const name of beside)
        expect(entryFiles, `${name} is left out of ${fn.logicalId} but is not one of its entry points`).toContain(name);
    });
  }

  it("names only packages some bundle actually leaves out", { timeout: 120_000 }, async () => {
    const leftOut = new Set<string>();
    for (const fn of withExternals) for (const imp of (await bundleComposition(fn)).externals) leftOut.add(imp.path);
    const declared = new Set(withExternals.flatMap((fn) => fn.buildProperties.External ?? []));
    const stale = [...declared].filter((name) => ![...leftOut].some((path) => path === name || path.startsWith(`${name}/`)));
    expect(stale).toEqual([]);
  });
});
