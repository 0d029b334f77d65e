import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { generateContract } from "./contract.ts";
import { generateWindows } from "./windows.ts";

// `npm run gen`: rewrites the sale contract's generated files from schemas/ (docs/add-a-field.md),
// then the windows' from template.yaml's Windows default (docs/aggregation.md#add-a-window). Each
// generator reads the files the one before wrote (both write regions of docs/openapi.yaml).
const root = fileURLToPath(new URL("../..", import.meta.url));
for (const generate of [generateContract, generateWindows])
  for (const [path, text] of generate(root)) {
    const file = join(root, path);
    let before = "";
    try {
      before = readFileSync(file, "utf8");
    } catch {
      // A generated file that does not exist yet is written below.
    }
    if (before === text) continue;
    writeFileSync(file, text);
    console.log(`gen: wrote ${path}`);
  }
