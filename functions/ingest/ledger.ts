/**
 * The request ledger of POST /sales: one entry per Idempotency-Key, so that a retry with the
 * same key never writes a record twice. An entry is:
 * - IN_PROGRESS while an attempt holds its lease (until that invocation's deadline);
 * - UNKNOWN once an attempt ended without knowing what it wrote (a 504), or its lease ran out
 *   (a container killed mid-request): the next attempt recovers (scans, then writes the rest);
 * - COMPLETED with the 202 it answered, which every later retry gets back.
 * An attempt that wrote nothing and followed none that might have (a 503 on a fresh entry)
 * removes the entry, so a retry starts afresh.
 */
export type LedgerState = "IN_PROGRESS" | "UNKNOWN" | "COMPLETED";

export interface LedgerEntry {
  /** The id the request's records carry in their `ingest-request-id` header. */
  readonly requestId: string;
  /** sha256 of the body of the first attempt. */
  readonly bodyHash: string;
  readonly state: LedgerState;
  /** Epoch ms when the first attempt began: recovery scans from here (less a clock-skew margin). */
  readonly firstStartedAt: number;
  /** Epoch ms until which the attempt `attempt` holds the entry (IN_PROGRESS only). */
  readonly leaseUntil: number;
  /** Token of the attempt that last claimed the entry: every later write is conditional on it. */
  readonly attempt: string;
  /** The 202 answered (COMPLETED only), as stored. */
  readonly response?: string;
}

/** What an attempt may do with its key. */
export type Claim =
  | { readonly kind: "fresh"; readonly requestId: string; readonly firstStartedAt: number; readonly attempt: string }
  | { readonly kind: "recover"; readonly requestId: string; readonly firstStartedAt: number; readonly attempt: string }
  | { readonly kind: "completed"; readonly response: string }
  | { readonly kind: "busy"; readonly leaseUntil: number }
  | { readonly kind: "mismatch" };

export interface ClaimRequest {
  readonly bodyHash: string;
  /** Epoch ms. */
  readonly now: number;
  /** Epoch ms: the end of this invocation. */
  readonly leaseUntil: number;
}

/** The ledger's store (DynamoDB in the function, a fake in unit tests). Every method throws when the store cannot be reached. */
export interface RequestLedger {
  /** Claims the key for an attempt (see Claim). */
  claim(key: string, request: ClaimRequest): Promise<Claim>;
  /** Stores the 202 of the attempt; false if another attempt has claimed the key since. */
  complete(key: string, attempt: string, response: string): Promise<boolean>;
  /** Removes the entry of a fresh attempt that wrote nothing. */
  forget(key: string, attempt: string): Promise<void>;
  /** Ends the attempt's lease with the outcome unknown: the next attempt recovers. */
  release(key: string, attempt: string, now: number): Promise<void>;
}

/**
 * What an existing entry means for a new attempt at `now` with `bodyHash`: never throws. A
 * takeover (`recover`) must still be made conditional on the entry's `attempt` by the store.
 */
export function decide(
  entry: LedgerEntry,
  bodyHash: string,
  now: number,
): { readonly kind: "mismatch" | "completed" | "busy" | "recover"; readonly entry: LedgerEntry } {
  if (entry.bodyHash !== bodyHash) return { kind: "mismatch", entry };
  if (entry.state === "COMPLETED") return { kind: "completed", entry };
  if (entry.state === "IN_PROGRESS" && entry.leaseUntil > now) return { kind: "busy", entry };
  return { kind: "recover", entry };
}
