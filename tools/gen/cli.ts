import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { generateContract } from "./contract.ts";

// `npm run gen`: rewrites the sale contract's generated files from schemas/ (docs/add-a-field.md).
const root = fileURLToPath(new URL("../..", import.meta.url));
for (const [path, text] of generateContract(root)) {
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
