import { ErrorCode } from '@otp/core';
import Type from 'typebox';

/**
 * Every error code with the status it comes with, what it means and a message it really
 * comes with, for the OpenAPI document. Typed against ErrorCode, so a new code does not
 * compile until it is documented.
 */
export const ERROR_CODES = {
  VALIDATION_ERROR: {
    status: 400,
    meaning: 'missing field, wrong type, unknown field, malformed or empty JSON, code not OTP_LENGTH digits',
    example: 'phone_number is required',
  },
  PHONE_INVALID: {
    status: 400,
    meaning: 'not a valid phone number, or not a mobile one',
    example: 'The phone number is too short.',
  },
  OTP_INVALID: {
    status: 400,
    meaning: 'wrong code; `attempts_left` says how many remain',
    example: 'Wrong code; 2 attempt(s) left.',
  },
  OTP_EXPIRED: {
    status: 400,
    meaning: 'no live code for this number: expired, already used, or never sent',
    example: 'No valid code for this number: it expired, was used, or was never sent.',
  },
  UNAUTHORIZED: {
    status: 401,
    meaning: 'missing or wrong API key (or admin credentials on admin routes)',
    example: 'A valid API key is required: Authorization: Bearer <key> or X-API-Key.',
  },
  COUNTRY_NOT_ALLOWED: {
    status: 403,
    meaning: 'a valid number from a country not in ALLOWED_COUNTRIES',
    example: 'Phone numbers from US are not served (allowed: RU, KZ).',
  },
  PHONE_BLOCKED: {
    status: 403,
    meaning: 'the number matches BLOCKED_PREFIXES',
    example: 'Codes cannot be sent to this number.',
  },
  NOT_FOUND: { status: 404, meaning: 'no such route', example: 'No route for GET /send-otp/x.' },
  VERIFICATION_NOT_FOUND: {
    status: 404,
    meaning: 'no verification with this id (or it has expired)',
    example: 'No verification with this id; records are kept for 24 hours.',
  },
  METHOD_NOT_ALLOWED: {
    status: 405,
    meaning: 'the path exists but not with this method',
    example: 'GET is not allowed on /send-otp/; use POST.',
  },
  WEBHOOK_SIGNATURE_INVALID: {
    status: 403,
    meaning:
      'a provider webhook whose signature is wrong or missing (e.g. X-Twilio-Signature); nothing changed',
    example: 'The X-Twilio-Signature header does not match this request.',
  },
  VERIFICATION_NOT_CANCELABLE: {
    status: 409,
    meaning:
      'cancel of a verification whose code is no longer live (verified, expired, replaced by a newer code); `status` says where it stands',
    example: 'This verification cannot be canceled: its code was already used.',
  },
  IDEMPOTENCY_KEY_IN_PROGRESS: {
    status: 409,
    meaning: 'a request with this Idempotency-Key is still running; retry shortly',
    example: 'A request with this Idempotency-Key is still being processed; retry shortly.',
  },
  PAYLOAD_TOO_LARGE: {
    status: 413,
    meaning: 'body over BODY_LIMIT_BYTES',
    example: 'The body is too large.',
  },
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    meaning: 'body not sent as application/json',
    example: 'Send the body as application/json.',
  },
  IDEMPOTENCY_KEY_REUSED: {
    status: 422,
    meaning: 'this Idempotency-Key was already used with a different body',
    example: 'This Idempotency-Key was already used with a different body; use a new key for a new request.',
  },
  OTP_ATTEMPTS_EXCEEDED: {
    status: 429,
    meaning: 'OTP_MAX_ATTEMPTS wrong codes: this code is dead',
    example: 'Too many wrong codes; this code no longer works. Ask for a new code.',
  },
  RESEND_TOO_SOON: {
    status: 429,
    meaning: 'a new code within OTP_RESEND_COOLDOWN_SECONDS; see `retry_after`',
    example: 'A code was sent to this number recently; ask again in 42 s.',
  },
  PHONE_SEND_LIMIT: {
    status: 429,
    meaning: 'too many codes to this number this hour or day',
    example: 'Too many codes sent to this number this hour; try again in 1800 s.',
  },
  IP_SEND_LIMIT: {
    status: 429,
    meaning: 'too many codes asked for from this address this hour',
    example: 'Too many codes requested from this address; try again in 1800 s.',
  },
  COUNTRY_SEND_LIMIT: {
    status: 429,
    meaning: "the country's daily SMS limit is reached",
    example: 'The daily SMS limit for this country is reached; try again in 3600 s.',
  },
  SMS_BUDGET_EXHAUSTED: {
    status: 429,
    meaning: 'the daily SMS budget is spent',
    example: 'The daily SMS budget is spent; sending resumes in 3600 s.',
  },
  VERIFY_LIMIT_EXCEEDED: {
    status: 429,
    meaning:
      'too many failed verifies this hour: for this number from this client, or from this address/API key',
    example: 'Too many failed attempts for this number; try again in 1800 s.',
  },
  PHONE_VERIFY_LOCKED: {
    status: 429,
    meaning:
      "this number's verifies are locked for every client (OTP_FAILED_VERIFIES_PER_PHONE_CEILING): no new SMS until `retry_after`",
    example: 'Verification for this number is locked after too many failed attempts; try again in 1800 s.',
  },
  FRAUD_SUSPECTED: {
    status: 429,
    meaning:
      "the number's range is blocked by the fraud guard (many codes, few verified: SMS pumping suspected); numbers that verified before still get codes",
    example: 'Codes to this number range are paused after suspicious traffic; try again in 900 s.',
  },
  RATE_LIMITED: {
    status: 429,
    meaning: 'more than RATE_LIMIT_PER_IP_PER_MINUTE requests from this address; see `retry_after`',
    example: 'Too many requests from this address; try again in 12 s.',
  },
  API_KEY_QUOTA_EXCEEDED: {
    status: 429,
    meaning: "the API key's per-minute quota is used up",
    example: 'API key "backend" is over its quota of 600 requests per minute.',
  },
  INTERNAL_ERROR: {
    status: 500,
    meaning: 'a bug; the log has the details',
    example: 'Internal server error.',
  },
  SERVICE_UNAVAILABLE: {
    status: 503,
    meaning: 'Redis unreachable; answered at once, with Retry-After',
    example: 'The service is temporarily unavailable; try again shortly.',
  },
  SERVICE_OVERLOADED: {
    status: 503,
    meaning: 'the API process is overloaded (event loop lag, memory); answered at once, with Retry-After',
    example: 'The service is overloaded; try again in 5 s.',
  },
} as const satisfies Record<ErrorCode, { status: number; meaning: string; example: string }>;

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
