import { createHash, randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { isBuiltin } from "node:module";
import { basename, join, relative, resolve } from "node:path";
import { build, version as esbuildVersion, type Loader } from "esbuild";
import { paths } from "../stack/settings.ts";
import type { SamFunction } from "../template/functions.ts";

/** A function's built artifact: what `sam build` puts in .aws-sam/build/<LogicalId>/. */
export interface Bundle {
  /** Folder holding the bundle, as Lambda's /var/task would. */
  readonly dir: string;
  /** The handler module (Handler's file part plus the output extension). */
  readonly file: string;
  readonly format: "esm" | "cjs";
  readonly bytes: number;
  /** True when an earlier build with the same inputs was reused. */
  readonly cached: boolean;
}

interface Manifest {
  readonly key: string;
  readonly inputs: Record<string, string>;
  readonly file: string;
  readonly format: "esm" | "cjs";
}

const buildRoot = join(paths.stateRoot, "build");
/** Builds kept per function besides the current one (a running container may still read one). */
const keptBuilds = 3;

const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");

const esbuildLoaders = ["base64", "binary", "copy", "css", "dataurl", "default", "empty", "file", "js", "json", "jsx", "text", "ts", "tsx"];

/** SAM's `Loader: [".html=text"]` as esbuild's loader map; throws naming the function and the bad entry. */
function loaders(logicalId: string, entries: readonly string[]): Record<string, Loader> {
  const map: Record<string, Loader> = {};
  for (const entry of entries) {
    const [extension, loader] = entry.split("=");
    if (extension === undefined || !extension.startsWith(".") || loader === undefined || !esbuildLoaders.includes(loader))
      throw new Error(
        `${logicalId}: BuildProperties.Loader entry "${entry}" must look like .html=text (loaders: ${esbuildLoaders.join(", ")})`,
      );
    map[extension] = loader as Loader;
  }
  return map;
}

/** SAM's `Alias: ["pkg=./stand-in.ts"]` as esbuild's alias map; throws naming the function and the bad entry. */
function aliases(logicalId: string, entries: readonly string[]): Record<string, string> {
  const map: Record<string, string> = {};
  for (const entry of entries) {
    const at = entry.indexOf("=");
    const name = entry.slice(0, at);
    const replacement = entry.slice(at + 1);
    if (at <= 0 || replacement === "" || name.startsWith(".") || name.startsWith("/"))
      throw new Error(
        `${logicalId}: BuildProperties.Alias entry "${entry}" must look like package=./replacement.ts or package=other-package`,
      );
    map[name] = replacement;
  }
  return map;
}

/** esbuild options for a function, exactly as `sam build` derives them from Metadata.BuildProperties. */
function esbuildOptions(fn: SamFunction) {
  const props = fn.buildProperties;
  const entryPoints = props.EntryPoints ?? [];
  if (entryPoints.length === 0) throw new Error(`${fn.logicalId} has no Metadata.BuildProperties.EntryPoints`);
  // SAM's esbuild builder defaults: cjs, node platform, minified, no source map.
  const format = props.Format ?? "cjs";
  const outExtension = props.OutExtension?.[0]?.split("=")[1] ?? ".js";
  return {
    format,
    outExtension,
    options: {
      absWorkingDir: resolve(paths.projectRoot, fn.codeUri),
      entryPoints,
      bundle: true,
      platform: "node" as const,
      format,
      target: props.Target ?? "es2020",
      minify: props.Minify ?? true,
      sourcemap: props.Sourcemap ?? false,
      external: props.External ?? [],
      ...(props.MainFields !== undefined && { mainFields: props.MainFields.split(",") }),
      ...(props.Loader !== undefined && { loader: loaders(fn.logicalId, props.Loader) }),
      ...(props.Alias !== undefined && { alias: aliases(fn.logicalId, props.Alias) }),
      outExtension: { ".js": outExtension },
      // ESM bundles that pull in CommonJS dependencies need a require().
      ...(format === "esm" && {
        banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
      }),
      metafile: true,
      logLevel: "silent" as const,
    },
  };
}

/** Hash of the inputs an earlier build read (paths relative to the project), or undefined if one is gone. */
function inputsDigest(inputs: Record<string, string>): string | undefined {
  const hash = createHash("sha256");
  for (const [file, digest] of Object.entries(inputs)) {
    const path = resolve(paths.projectRoot, file);
    if (!existsSync(path)) return undefined;
    if (sha256(readFileSync(path)) !== digest) return undefined;
    hash.update(`${file}\0${digest}\0`);
  }
  return hash.digest("hex");
}

function readManifest(file: string): Manifest | undefined {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as Manifest;
  } catch {
    return undefined;
  }
}

/**
 * Bundles a function with esbuild as `sam build` does from its Metadata.BuildProperties, into
 * .local/build/<LogicalId>/<content hash>/, and reuses that build while no input file (source,
 * dependency, option, esbuild version) changed. Safe when several processes build at once
 * (each build lands under its own hash by rename). Throws with esbuild's messages when the
 * bundle does not build.
 */
export async function buildFunction(fn: SamFunction): Promise<Bundle> {
  const { format, outExtension, options } = esbuildOptions(fn);
  const key = sha256(JSON.stringify({ esbuildVersion, options }));
  const fnRoot = join(buildRoot, `${fn.logicalId}-${key.slice(0, 12)}`);
  const currentFile = join(fnRoot, "current.json");
  const handlerFile = `${fn.handlerFile}${outExtension}`;

  const current = readManifest(currentFile);
  if (current !== undefined && current.key === key) {
    const digest = inputsDigest(current.inputs);
    const dir = digest === undefined ? undefined : join(fnRoot, digest.slice(0, 16));
    if (dir !== undefined && existsSync(join(dir, handlerFile))) {
      return { dir, file: join(dir, handlerFile), format, bytes: statSync(join(dir, handlerFile)).size, cached: true };
    }
  }

  mkdirSync(fnRoot, { recursive: true });
  const staging = join(fnRoot, `.staging-${randomUUID()}`);
  try {
    const result = await build({ ...options, outdir: staging }).catch((error: Error) => {
      throw new Error(`esbuild could not bundle ${fn.logicalId}: ${error.message}`, { cause: error });
    });
    const inputs: Record<string, string> = {};
    for (const input of Object.keys(result.metafile?.inputs ?? {}).sort()) {
      const path = resolve(options.absWorkingDir, input);
      inputs[relative(paths.projectRoot, path)] = sha256(readFileSync(path));
    }
    const digest = inputsDigest(inputs) ?? sha256(randomUUID());
    if (!existsSync(join(staging, handlerFile))) {
      throw new Error(
        `${fn.logicalId}: esbuild wrote no ${handlerFile} (Handler "${fn.handlerFile}.${fn.handlerExport}" must name the entry point's file)`,
      );
    }
    // Lambda reads a .js file as CommonJS (no package.json in /var/task); the project's package.json
    // says "module", so the local copy states the format the bundle was built in.
    writeFileSync(join(staging, "package.json"), `${JSON.stringify({ type: format === "esm" ? "module" : "commonjs" })}\n`);
    const dir = join(fnRoot, digest.slice(0, 16));
    if (existsSync(dir)) rmSync(staging, { recursive: true, force: true });
    else renameSync(staging, dir);
    const manifestTmp = join(fnRoot, `.current-${randomUUID()}.json`);
    writeFileSync(manifestTmp, JSON.stringify({ key, inputs, file: handlerFile, format } satisfies Manifest));
    renameSync(manifestTmp, currentFile);
    prune(fnRoot, dir);
    return { dir, file: join(dir, handlerFile), format, bytes: statSync(join(dir, handlerFile)).size, cached: false };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** Drops all but the newest builds of a function (never the one just made). */
function prune(fnRoot: string, keep: string): void {
  const builds = readdirSync(fnRoot, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && !entry.name.startsWith("."))
    .map((entry) => join(fnRoot, entry.name))
    .filter((dir) => dir !== keep)
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  for (const dir of builds.slice(keptBuilds - 1)) rmSync(dir, { recursive: true, force: true });
}

const inFlight = new Map<string, Promise<Bundle>>();

/** buildFunction, shared by every caller in this process (one build per function and content). */
export function bundleOf(fn: SamFunction): Promise<Bundle> {
  const id = `${fn.logicalId}\0${JSON.stringify(fn.buildProperties)}\0${fn.codeUri}\0${fn.handlerFile}`;
  let pending = inFlight.get(id);
  if (pending === undefined) {
    pending = buildFunction(fn);
    inFlight.set(id, pending);
    // A failed build is not remembered: the next call tries again (after a fix, say).
    pending.catch(() => inFlight.delete(id));
  }
  return pending;
}

/** What a bundle is made of: bytes of the output per package (`node_modules/<name>`) or source folder. */
export interface BundleComposition {
  readonly bytes: number;
  /** Largest first. */
  readonly parts: readonly { readonly name: string; readonly bytes: number }[];
  /**
   * Each import the bundle leaves to the runtime (the template's External; not Node's built-ins):
   * what it names, which input holds it, how (`dynamic-import`, `require-call`,
   * `import-statement`), and whether it loads at init: its input is evaluated when the bundle is
   * (reached from the entry point without an import()) and it is not itself an import().
   */
  readonly externals: readonly { readonly path: string; readonly importer: string; readonly kind: string; readonly atInit: boolean }[];
  /** Bytes of the output whose inputs are reached without an import() (evaluated as far as the code at init asks); the rest is only parsed. */
  readonly initBytes: number;
  /** The outputs of the function's other entry points (files beside the handler's), by file name. */
  readonly otherEntries: readonly { readonly file: string; readonly bytes: number }[];
}

/**
 * The function's handler bundle as esbuild's metafile describes it (the same options as
 * buildFunction; the output of its first entry point, the handler's), its output bytes grouped
 * by package or by the project's folder, so a reader sees where the weight is. Writes nothing.
 * Throws with esbuild's messages when the bundle does not build.
 */
export async function bundleComposition(fn: SamFunction): Promise<BundleComposition> {
  const { options } = esbuildOptions(fn);
  const result = await build({ ...options, write: false, outdir: join(buildRoot, ".composition") });
  const handlerEntry = options.entryPoints[0];
  const outputs = Object.values(result.metafile?.outputs ?? {});
  const output = outputs.find((out) => out.entryPoint === handlerEntry);
  if (output === undefined) throw new Error(`${fn.logicalId}: esbuild reported no output for its entry point ${handlerEntry}`);
  const byPart = new Map<string, number>();
  for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.[1];
    const name = pkg ?? input.split("/").slice(0, 2).join("/");
    byPart.set(name, (byPart.get(name) ?? 0) + bytesInOutput);
  }
  const parts = [...byPart].map(([name, bytes]) => ({ name, bytes })).sort((a, b) => b.bytes - a.bytes);
  const inputs = result.metafile?.inputs ?? {};
  // Inputs evaluated with the bundle: reached from the entry point by static imports and require().
  const atInit = new Set<string>([handlerEntry as string]);
  for (const input of atInit) {
    for (const imp of inputs[input]?.imports ?? []) if (!imp.external && imp.kind !== "dynamic-import") atInit.add(imp.path);
  }
  const externals = Object.entries(inputs)
    .filter(([input]) => input in output.inputs)
    .flatMap(([importer, { imports }]) =>
      imports
        .filter((imp) => imp.external === true && !isBuiltin(imp.path))
        .map((imp) => ({ path: imp.path, importer, kind: imp.kind, atInit: atInit.has(importer) && imp.kind !== "dynamic-import" })),
    );
  const initBytes = Object.entries(output.inputs)
    .filter(([input]) => atInit.has(input))
    .reduce((sum, [, { bytesInOutput }]) => sum + bytesInOutput, 0);
  const otherEntries = Object.entries(result.metafile?.outputs ?? {})
    .filter(([, out]) => out.entryPoint !== undefined && out !== output)
    .map(([file, out]) => ({ file: basename(file), bytes: out.bytes }));
  return { bytes: output.bytes, parts, externals, initBytes, otherEntries };
}

let workerBuild: Promise<string> | undefined;

/**
 * The local runtime's worker script (tools/local-aws/runtime/lambda-worker.ts) as plain JavaScript, so a
 * container runs no TypeScript loader beside the function's bundle. Built once per process,
 * kept under the hash of its source. Throws with esbuild's message when it does not build.
 */
export function workerScript(): Promise<string> {
  workerBuild ??= (async () => {
    const source = join(paths.packageRoot, "runtime", "lambda-worker.ts");
    const file = join(buildRoot, "runtime", `lambda-worker-${sha256(readFileSync(source)).slice(0, 16)}.mjs`);
    if (existsSync(file)) return file;
    mkdirSync(join(buildRoot, "runtime"), { recursive: true });
    const staging = `${file}.${randomUUID()}.tmp`;
    await build({
      entryPoints: [source],
      outfile: staging,
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node22",
      logLevel: "silent",
    });
    renameSync(staging, file);
    return file;
  })();
  return workerBuild;
}
