/**
 * The product's one retry policy: exponential backoff with full jitter (a random delay in
 * [0, base * 2^(attempt-1)), capped), which spreads the retries of many containers that met
 * the same throttle instead of having them all come back at once.
 */
export interface BackoffOptions {
  /** Delay bound of the first retry; it doubles with every attempt. */
  readonly baseMs: number;
  /** No delay bound grows past this. */
  readonly capMs?: number;
  readonly random?: () => number;
}

export interface RetryOptions extends BackoffOptions {
  /** Attempts in all, the first one included (1 = no retry). */
  readonly maxAttempts: number;
  /** Whether an error is worth another attempt; default: every error is. */
  readonly shouldRetry?: (error: unknown) => boolean;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The delay bound before retry number `attempt` (1-based): base * 2^(attempt-1), at most `capMs`. */
export function exponentialDelay(attempt: number, { baseMs, capMs = Number.POSITIVE_INFINITY }: BackoffOptions): number {
  return Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
}

/** A full-jitter delay before retry number `attempt`: uniform in [0, exponentialDelay). */
export function backoffDelay(attempt: number, options: BackoffOptions): number {
  return (options.random ?? Math.random)() * exponentialDelay(attempt, options);
}

/**
 * Runs `work` until it resolves, waiting a backoffDelay between attempts. Throws the last error
 * once `maxAttempts` are spent, or at once when `shouldRetry` says an error will not pass.
 */
export async function withRetries<T>(work: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const { maxAttempts, shouldRetry = () => true, sleep: wait = sleep } = options;
  for (let attempt = 1; ; attempt++) {
    try {
      return await work(attempt);
    } catch (error) {
      if (attempt >= maxAttempts || !shouldRetry(error)) throw error;
      await wait(backoffDelay(attempt, options));
    }
  }
}
