import { type Claim, decide, type LedgerEntry, type RequestLedger } from "#functions/ingest/ledger";

/** The ledger's rules (decide) over a Map, with the store's conditional writes on the attempt token. */
export function memoryLedger(): RequestLedger & { entries: Map<string, LedgerEntry>; down: boolean } {
  const entries = new Map<string, LedgerEntry>();
  let next = 0;
  const ledger = {
    entries,
    down: false,
    async claim(key: string, { bodyHash, now, leaseUntil }: { bodyHash: string; now: number; leaseUntil: number }): Promise<Claim> {
      if (ledger.down) throw new Error("DynamoDB down");
      const attempt = `a${++next}`;
      const existing = entries.get(key);
      if (existing === undefined) {
        const entry: LedgerEntry = { requestId: `r${next}`, bodyHash, state: "IN_PROGRESS", firstStartedAt: now, leaseUntil, attempt };
        entries.set(key, entry);
        return { kind: "fresh", requestId: entry.requestId, firstStartedAt: now, attempt };
      }
      const decision = decide(existing, bodyHash, now);
      if (decision.kind === "mismatch") return { kind: "mismatch" };
      if (decision.kind === "completed") return { kind: "completed", response: existing.response ?? "" };
      if (decision.kind === "busy") return { kind: "busy", leaseUntil: existing.leaseUntil };
      entries.set(key, { ...existing, state: "IN_PROGRESS", leaseUntil, attempt });
      return { kind: "recover", requestId: existing.requestId, firstStartedAt: existing.firstStartedAt, attempt };
    },
    async complete(key: string, attempt: string, response: string) {
      const entry = entries.get(key);
      if (entry?.attempt !== attempt) return false;
      entries.set(key, { ...entry, state: "COMPLETED", response });
      return true;
    },
    async forget(key: string, attempt: string) {
      if (entries.get(key)?.attempt === attempt) entries.delete(key);
    },
    async release(key: string, attempt: string, now: number) {
      const entry = entries.get(key);
      if (entry?.attempt === attempt) entries.set(key, { ...entry, state: "UNKNOWN", leaseUntil: now });
    },
  };
  return ledger;
}
