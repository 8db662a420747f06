/**
 * Stable, machine-readable error codes. Clients branch on these, so a code never changes
 * meaning once released; the human `message` may.
 */
export const ErrorCode = {
  VALIDATION_ERROR: 'VALIDATION_ERROR',
  PHONE_INVALID: 'PHONE_INVALID',
  COUNTRY_NOT_ALLOWED: 'COUNTRY_NOT_ALLOWED',
  WEBHOOK_SIGNATURE_INVALID: 'WEBHOOK_SIGNATURE_INVALID',
  OTP_INVALID: 'OTP_INVALID',
  OTP_EXPIRED: 'OTP_EXPIRED',
  OTP_ATTEMPTS_EXCEEDED: 'OTP_ATTEMPTS_EXCEEDED',
  RESEND_TOO_SOON: 'RESEND_TOO_SOON',
  PHONE_BLOCKED: 'PHONE_BLOCKED',
  PHONE_SEND_LIMIT: 'PHONE_SEND_LIMIT',
  IP_SEND_LIMIT: 'IP_SEND_LIMIT',
  COUNTRY_SEND_LIMIT: 'COUNTRY_SEND_LIMIT',
  SMS_BUDGET_EXHAUSTED: 'SMS_BUDGET_EXHAUSTED',
  VERIFY_LIMIT_EXCEEDED: 'VERIFY_LIMIT_EXCEEDED',
  PHONE_VERIFY_LOCKED: 'PHONE_VERIFY_LOCKED',
  RATE_LIMITED: 'RATE_LIMITED',
  /** The number's range is blocked by the fraud guard (SMS pumping suspected); see Retry-After. */
  FRAUD_SUSPECTED: 'FRAUD_SUSPECTED',
  UNAUTHORIZED: 'UNAUTHORIZED',
  API_KEY_QUOTA_EXCEEDED: 'API_KEY_QUOTA_EXCEEDED',
  IDEMPOTENCY_KEY_REUSED: 'IDEMPOTENCY_KEY_REUSED',
  IDEMPOTENCY_KEY_IN_PROGRESS: 'IDEMPOTENCY_KEY_IN_PROGRESS',
  NOT_FOUND: 'NOT_FOUND',
  VERIFICATION_NOT_FOUND: 'VERIFICATION_NOT_FOUND',
  /** POST /verifications/:id/cancel on a verification whose code is no longer live. */
  VERIFICATION_NOT_CANCELABLE: 'VERIFICATION_NOT_CANCELABLE',
  METHOD_NOT_ALLOWED: 'METHOD_NOT_ALLOWED',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  SERVICE_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
  /** The API process itself is overloaded (event loop lag, memory): shed, with Retry-After. */
  SERVICE_OVERLOADED: 'SERVICE_OVERLOADED',
  INTERNAL_ERROR: 'INTERNAL_ERROR',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface AppErrorOptions {
  /** Extra fields merged into the JSON answer, e.g. `{ attempts_left: 2 }`. */
  details?: Record<string, unknown>;
  /** Extra response headers, e.g. `{ 'retry-after': '42' }`. */
  headers?: Record<string, string>;
  /**
   * Which sentence of the API's message catalog this is, when one code has several (e.g.
   * `PHONE_SEND_LIMIT.day`), so the answer can follow Accept-Language. @defaultValue the code
   */
  messageKey?: string;
  cause?: unknown;
}

/** An expected failure with a stable code and HTTP status; the API turns it into JSON as is. */
export class AppError extends Error {
  override readonly name = 'AppError';
  readonly details: Record<string, unknown>;
  readonly headers: Record<string, string>;
  readonly messageKey: string;

  constructor(
    readonly code: ErrorCode,
    readonly statusCode: number,
    message: string,
    options: AppErrorOptions = {},
  ) {
    // A 4xx is an answer, not a fault: nobody reads its stack, and capturing one was a
    // measurable share of a refused or wrong-code request (the attack path included).
    const stackTraceLimit = Error.stackTraceLimit;
    if (statusCode < 500) Error.stackTraceLimit = 0;
    super(message, { cause: options.cause });
    Error.stackTraceLimit = stackTraceLimit;
    this.details = options.details ?? {};
    this.headers = options.headers ?? {};
    this.messageKey = options.messageKey ?? code;
  }
}

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}

/** Raised once at start-up when the environment is unusable; the message names the variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
}
