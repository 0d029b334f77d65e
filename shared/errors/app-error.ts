/**
 * The one base error of the product. `code` is stable (tests and dashboards key on it),
 * `retriable` says whether trying the same thing again may succeed (as in kafkajs),
 * and `status`/`expose` decide what an HTTP client sees (as middy's HttpError does).
 */
export interface AppErrorOptions {
  readonly code: string;
  readonly retriable?: boolean;
  readonly status?: number;
  /** Whether the message is safe to show a client; defaults to status < 500. */
  readonly expose?: boolean;
  readonly cause?: unknown;
  /** Structured, client-safe detail (field paths, record indexes); never record bodies. */
  readonly details?: unknown;
}

export class AppError extends Error {
  readonly code: string;
  readonly retriable: boolean;
  readonly status: number;
  readonly expose: boolean;
  readonly details: unknown;

  constructor(message: string, options: AppErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = options.code;
    this.retriable = options.retriable ?? false;
    this.status = options.status ?? 500;
    this.expose = options.expose ?? this.status < 500;
    this.details = options.details;
  }
}
