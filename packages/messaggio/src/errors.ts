export { parseRetryAfter } from '@otp/sms';
/**
 * Stable codes for every way a call to Messaggio can fail. Callers branch on `code` and
 * `retryable`, never on the message text.
 */
export type MessaggioErrorCode =
  | 'MESSAGGIO_TIMEOUT'
  | 'MESSAGGIO_NETWORK'
  | 'MESSAGGIO_RATE_LIMITED'
  | 'MESSAGGIO_SERVER_ERROR'
  /** HTTP 408. */
  | 'MESSAGGIO_REQUEST_TIMEOUT'
  /** HTTP 400 and 422, or a request the client refused to send. */
  | 'MESSAGGIO_BAD_REQUEST'
  /** HTTP 401. */
  | 'MESSAGGIO_UNAUTHORIZED'
  /** HTTP 402. */
  | 'MESSAGGIO_NO_BALANCE'
  /** HTTP 403. */
  | 'MESSAGGIO_FORBIDDEN'
  /** HTTP 404. */
  | 'MESSAGGIO_NOT_FOUND'
  /** A per-recipient error inside an HTTP 200. */
  | 'MESSAGGIO_RECIPIENT_REJECTED'
  /** A 2xx whose body is not the documented send result. */
  | 'MESSAGGIO_BAD_RESPONSE'
  /** Any other HTTP status. */
  | 'MESSAGGIO_HTTP_ERROR';

/** What {@link MessaggioError} is built from. */
export interface MessaggioErrorInit {
  code: MessaggioErrorCode;
  /** A plain sentence; must never contain the project login. */
  message: string;
  retryable: boolean;
  status?: number;
  retryAfterMs?: number;
  title?: string;
  detail?: string;
  cause?: unknown;
}

/** Every failure of the Messaggio client. */
export class MessaggioError extends Error {
  override readonly name = 'MessaggioError' as const;
  readonly code: MessaggioErrorCode;
  /** true for timeouts, network errors, 408, 429, 5xx and malformed 2xx bodies; false otherwise (permanent). */
  readonly retryable: boolean;
  /** The HTTP status, when Messaggio answered at all. */
  readonly status?: number;
  /** From a Retry-After header (seconds or HTTP date), in ms. */
  readonly retryAfterMs?: number;
  /** Messaggio's `title`. */
  readonly title?: string;
  /** Messaggio's `detail`. */
  readonly detail?: string;

  constructor(init: MessaggioErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = init.code;
    this.retryable = init.retryable;
    this.status = init.status;
    this.retryAfterMs = init.retryAfterMs;
    this.title = init.title;
    this.detail = init.detail;
  }
}

/**
 * Maps an HTTP status to a code and whether a retry can help, following the retry rule in
 * docs/messaggio-api.md: 408, 429 and 5xx are transient; 400, 401, 402, 403, 404 and 422 are
 * permanent, and so is anything undocumented.
 */
export function classifyStatus(status: number): { code: MessaggioErrorCode; retryable: boolean } {
  // A 2xx only reaches classification when its body was not a send result. The SMS may have
  // gone out, but a duplicate OTP is harmless and a lost one is not, so a retry is allowed.
  if (status >= 200 && status <= 299) return { code: 'MESSAGGIO_BAD_RESPONSE', retryable: true };
  switch (status) {
    case 400:
    case 422:
      return { code: 'MESSAGGIO_BAD_REQUEST', retryable: false };
    case 401:
      return { code: 'MESSAGGIO_UNAUTHORIZED', retryable: false };
    case 402:
      return { code: 'MESSAGGIO_NO_BALANCE', retryable: false };
    case 403:
      return { code: 'MESSAGGIO_FORBIDDEN', retryable: false };
    case 404:
      return { code: 'MESSAGGIO_NOT_FOUND', retryable: false };
    case 408:
      return { code: 'MESSAGGIO_REQUEST_TIMEOUT', retryable: true };
    case 429:
      return { code: 'MESSAGGIO_RATE_LIMITED', retryable: true };
  }
  if (status >= 500 && status <= 599) return { code: 'MESSAGGIO_SERVER_ERROR', retryable: true };
  return { code: 'MESSAGGIO_HTTP_ERROR', retryable: false };
}

/**
 * True for a {@link MessaggioError}. Also recognises one from another copy of this module
 * (source and dist loaded side by side), where `instanceof` would say no.
 */
export function isMessaggioError(err: unknown): err is MessaggioError {
  if (err instanceof MessaggioError) return true;
  if (!(err instanceof Error) || err.name !== 'MessaggioError') return false;
  const candidate = err as Partial<MessaggioError>;
  return typeof candidate.code === 'string' && typeof candidate.retryable === 'boolean';
}
