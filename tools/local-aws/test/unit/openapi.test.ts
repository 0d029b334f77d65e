import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { httpRoutes } from "../../runtime/http-api.ts";
import { localStackContext } from "../../stack/context.ts";
import { paths } from "../../stack/settings.ts";
import { samFunctions } from "../../template/functions.ts";

describe("docs/openapi.yaml", () => {
  it("documents exactly the routes template.yaml declares", () => {
    const openapi = parse(readFileSync(join(paths.projectRoot, "docs", "openapi.yaml"), "utf8")) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const documented = Object.entries(openapi.paths)
      .flatMap(([path, operations]) =>
        Object.keys(operations)
          .filter((k) => k !== "parameters")
          .map((method) => `${method.toUpperCase()} ${path}`),
      )
      .sort();
    const declared = httpRoutes(samFunctions(localStackContext()))
      .map((route) => `${route.method} ${route.path}`)
      .sort();
    expect(declared.length).toBeGreaterThan(0);
    expect(documented).toEqual(declared);
  });
});
