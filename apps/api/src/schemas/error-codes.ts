import { ErrorCode } from '@otp/core';
import Type from 'typebox';

/**
 * Every error code with the status it comes with and what it means, for the OpenAPI
 * document. Typed against ErrorCode, so a new code does not compile until it is documented.
 */
export const ERROR_CODES = {
  VALIDATION_ERROR: {
    status: 400,
    meaning: 'missing field, wrong type, unknown field, malformed or empty JSON, code not OTP_LENGTH digits',
  },
  PHONE_INVALID: { status: 400, meaning: 'not a valid phone number, or not a mobile one' },
  OTP_INVALID: { status: 400, meaning: 'wrong code; `attempts_left` says how many remain' },
  OTP_EXPIRED: { status: 400, meaning: 'no live code for this number: expired, already used, or never sent' },
  UNAUTHORIZED: { status: 401, meaning: 'missing or wrong API key (or admin credentials on admin routes)' },
  COUNTRY_NOT_ALLOWED: { status: 403, meaning: 'a valid number from a country not in ALLOWED_COUNTRIES' },
  PHONE_BLOCKED: { status: 403, meaning: 'the number matches BLOCKED_PREFIXES' },
  NOT_FOUND: { status: 404, meaning: 'no such route' },
  VERIFICATION_NOT_FOUND: { status: 404, meaning: 'no verification with this id (or it has expired)' },
  METHOD_NOT_ALLOWED: { status: 405, meaning: 'the path exists but not with this method' },
  IDEMPOTENCY_KEY_IN_PROGRESS: {
    status: 409,
    meaning: 'a request with this Idempotency-Key is still running; retry shortly',
  },
  PAYLOAD_TOO_LARGE: { status: 413, meaning: 'body over BODY_LIMIT_BYTES' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, meaning: 'body not sent as application/json' },
  IDEMPOTENCY_KEY_REUSED: {
    status: 422,
    meaning: 'this Idempotency-Key was already used with a different body',
  },
  OTP_ATTEMPTS_EXCEEDED: { status: 429, meaning: 'OTP_MAX_ATTEMPTS wrong codes: this code is dead' },
  RESEND_TOO_SOON: {
    status: 429,
    meaning: 'a new code within OTP_RESEND_COOLDOWN_SECONDS; see `retry_after`',
  },
  PHONE_SEND_LIMIT: { status: 429, meaning: 'too many codes to this number this hour or day' },
  IP_SEND_LIMIT: { status: 429, meaning: 'too many codes asked for from this address this hour' },
  COUNTRY_SEND_LIMIT: { status: 429, meaning: "the country's daily SMS limit is reached" },
  SMS_BUDGET_EXHAUSTED: { status: 429, meaning: 'the daily SMS budget is spent' },
  VERIFY_LIMIT_EXCEEDED: {
    status: 429,
    meaning:
      'too many failed verifies this hour: for this number from this client, or from this address/API key',
  },
  PHONE_VERIFY_LOCKED: {
    status: 429,
    meaning:
      "this number's verifies are locked for every client (OTP_FAILED_VERIFIES_PER_PHONE_CEILING): no new SMS until `retry_after`",
  },
  RATE_LIMITED: {
    status: 429,
    meaning: 'more than RATE_LIMIT_PER_IP_PER_MINUTE requests from this address; see `retry_after`',
  },
  API_KEY_QUOTA_EXCEEDED: { status: 429, meaning: "the API key's per-minute quota is used up" },
  INTERNAL_ERROR: { status: 500, meaning: 'a bug; the log has the details' },
  SERVICE_UNAVAILABLE: { status: 503, meaning: 'Redis unreachable; answered at once, with Retry-After' },
} as const satisfies Record<ErrorCode, { status: number; meaning: string }>;

/** The `code` of every error answer: one of ErrorCode. */
export const ErrorCodeSchema = Type.Enum(Object.values(ErrorCode), {
  description: 'Stable machine-readable error code: branch on it, never on `message`.',
  examples: ['PHONE_INVALID'],
});

/** "`PHONE_INVALID`: not a valid phone number…", one line per code that comes with `status`. */
export function describeErrorStatus(status: number): string | undefined {
  const lines = Object.entries(ERROR_CODES)
    .filter(([, entry]) => entry.status === status)
    .map(([code, entry]) => `\`${code}\`: ${entry.meaning}`);
  return lines.length > 0 ? lines.join('\n\n') : undefined;
}
