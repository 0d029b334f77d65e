import { AppError } from "../errors/app-error.ts";

/**
 * An error with an HTTP status that a client may see (4xx, and 503/504, which say when to retry)
 * or a generic one (other 5xx); `expose` makes a 5xx whose code a client must act on (a stable
 * code that says retrying will not help) visible too.
 */
export class HttpError extends AppError {
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    status: number,
    code: string,
    message: string,
    options: { details?: unknown; headers?: Record<string, string>; cause?: unknown; retriable?: boolean; expose?: boolean } = {},
  ) {
    super(message, { code, status, expose: status < 500 || status === 503 || status === 504, ...options });
    this.headers = options.headers ?? {};
  }
}

export const badRequest = (code: string, message: string, details?: unknown) => new HttpError(400, code, message, { details });
