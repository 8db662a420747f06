import { ErrorCode } from '@otp/core';

/** Which OTP endpoint a route is, for the send and verify counters. */
export type OtpOperation = 'send' | 'verify';

// Error codes that share one result, so dashboards stay readable. Every other code is
// reported as its own lower-case name (`phone_invalid`, `country_not_allowed`, …), so a code
// added later shows up without an edit here; the exact code is also in otp_api_errors_total.
const GROUPED: Partial<Record<ErrorCode, string>> = {
  [ErrorCode.RESEND_TOO_SOON]: 'rate_limited',
  [ErrorCode.PHONE_SEND_LIMIT]: 'rate_limited',
  [ErrorCode.IP_SEND_LIMIT]: 'rate_limited',
  [ErrorCode.COUNTRY_SEND_LIMIT]: 'rate_limited',
  [ErrorCode.VERIFY_LIMIT_EXCEEDED]: 'rate_limited',
  [ErrorCode.API_KEY_QUOTA_EXCEEDED]: 'rate_limited',
  [ErrorCode.OTP_INVALID]: 'invalid',
  [ErrorCode.OTP_EXPIRED]: 'expired',
  [ErrorCode.OTP_ATTEMPTS_EXCEEDED]: 'attempts_exceeded',
  [ErrorCode.VALIDATION_ERROR]: 'validation_error',
  [ErrorCode.PAYLOAD_TOO_LARGE]: 'validation_error',
  [ErrorCode.UNSUPPORTED_MEDIA_TYPE]: 'validation_error',
  [ErrorCode.UNAUTHORIZED]: 'unauthorized',
  [ErrorCode.PHONE_BLOCKED]: 'blocked',
  [ErrorCode.SMS_BUDGET_EXHAUSTED]: 'budget_exhausted',
  [ErrorCode.SERVICE_UNAVAILABLE]: 'unavailable',
  [ErrorCode.INTERNAL_ERROR]: 'error',
};

const KNOWN_CODES = new Set<string>(Object.values(ErrorCode));

/**
 * The `result` label of one OTP answer, from its status and error `code`: `sent` or
 * `verified` for a 2xx, otherwise the failure. Label values stay within a fixed set: a code
 * that is not an ErrorCode counts as `error`.
 */
export function otpResult(operation: OtpOperation, statusCode: number, code: string | undefined): string {
  if (statusCode >= 200 && statusCode < 300) return operation === 'send' ? 'sent' : 'verified';
  if (code === undefined || !KNOWN_CODES.has(code)) return 'error';
  return GROUPED[code as ErrorCode] ?? code.toLowerCase();
}

/** The `code` label of an error answer: an ErrorCode, or `OTHER` for a body without one. */
export function errorCodeLabel(code: string | undefined): string {
  return code !== undefined && KNOWN_CODES.has(code) ? code : 'OTHER';
}
