import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { httpRoutes } from "#local/runtime/http-api";
import { localStackContext } from "#local/stack/context";
import { paths } from "#local/stack/settings";
import { samFunctions } from "#local/template/functions";

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
