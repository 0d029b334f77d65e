import { resolveValue, resourceEnabled, type StackContext } from "./intrinsics.ts";

/** esbuild settings of a function, as SAM's `Metadata.BuildProperties` spells them. */
export interface BuildProperties {
  readonly EntryPoints?: string[];
  readonly External?: string[];
  readonly Format?: "esm" | "cjs";
  readonly Minify?: boolean;
  readonly Sourcemap?: boolean;
  readonly Target?: string;
  readonly MainFields?: string;
  readonly OutExtension?: string[];
  /** `.ext=loader` pairs (`.html=text`), as SAM passes them to esbuild's --loader. */
  readonly Loader?: string[];
  /** `package=replacement` pairs, as SAM passes them to esbuild's --alias (a `./` replacement is a path from CodeUri). */
  readonly Alias?: string[];
}

/** A function of the template with SAM's Globals merged in, its intrinsics resolved. */
export interface SamFunction {
  readonly logicalId: string;
  readonly codeUri: string;
  /** "handler" of "handler.handler": the bundle's file name without extension. */
  readonly handlerFile: string;
  readonly handlerExport: string;
  readonly timeoutSeconds: number;
  readonly memoryMb: number;
  readonly environment: Readonly<Record<string, string>>;
  readonly events: Readonly<Record<string, { Type: string; Properties: Record<string, unknown> }>>;
  readonly buildProperties: BuildProperties;
}

/** Every AWS::Serverless::Function of the template. Throws naming a function whose Handler is malformed. */
export function samFunctions(ctx: StackContext): SamFunction[] {
  const globals = (resolveValue(ctx, ctx.template.Globals?.Function ?? {}, "Globals.Function") ?? {}) as Record<string, unknown>;
  const globalEnv = ((globals.Environment as { Variables?: Record<string, string> } | undefined)?.Variables ?? {}) as Record<
    string,
    string
  >;
  return Object.entries(ctx.template.Resources)
    .filter(([id, resource]) => resource.Type === "AWS::Serverless::Function" && resourceEnabled(ctx, id))
    .map(([logicalId, resource]) => {
      const props = resolveValue(ctx, resource.Properties ?? {}, `Resources.${logicalId}.Properties`) as Record<string, unknown>;
      const handler = String(props.Handler ?? globals.Handler ?? "");
      const dot = handler.lastIndexOf(".");
      if (dot <= 0) throw new Error(`Resources.${logicalId}.Properties.Handler must look like "file.export", got "${handler}"`);
      const env = (props.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {};
      return {
        logicalId,
        codeUri: String(props.CodeUri ?? globals.CodeUri ?? "."),
        handlerFile: handler.slice(0, dot),
        handlerExport: handler.slice(dot + 1),
        timeoutSeconds: Number(props.Timeout ?? globals.Timeout ?? 3),
        memoryMb: Number(props.MemorySize ?? globals.MemorySize ?? 128),
        environment: Object.fromEntries(Object.entries({ ...globalEnv, ...env }).map(([k, v]) => [k, String(v)])),
        events: (props.Events ?? {}) as SamFunction["events"],
        buildProperties: (resource.Metadata?.BuildProperties ?? {}) as BuildProperties,
      };
    });
}
