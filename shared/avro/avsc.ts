import type * as Avsc from "avsc";
// avsc's main entry also pulls in its RPC services and file containers (~50 KB of every
// bundle); its types-only entry is the same Type/types API and all the codec uses.
import typesOnly from "avsc/etc/browser/avsc-types.js";

export const avro = typesOnly as unknown as Pick<typeof Avsc, "Type" | "types">;
export type { Schema, Type } from "avsc";
