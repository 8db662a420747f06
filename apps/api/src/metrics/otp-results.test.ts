import { ErrorCode } from '@otp/core';
import { describe, expect, it } from 'vitest';
import { errorCodeLabel, otpResult } from './otp-results.js';

describe('otpResult', () => {
  it.each([
    ['send', 200, undefined, 'sent'],
    ['verify', 200, undefined, 'verified'],
    ['send', 429, ErrorCode.RESEND_TOO_SOON, 'rate_limited'],
    ['send', 429, ErrorCode.PHONE_SEND_LIMIT, 'rate_limited'],
    ['send', 429, ErrorCode.API_KEY_QUOTA_EXCEEDED, 'rate_limited'],
    ['verify', 400, ErrorCode.OTP_INVALID, 'invalid'],
    ['verify', 400, ErrorCode.OTP_EXPIRED, 'expired'],
    ['verify', 429, ErrorCode.OTP_ATTEMPTS_EXCEEDED, 'attempts_exceeded'],
    ['verify', 400, ErrorCode.VALIDATION_ERROR, 'validation_error'],
    ['send', 415, ErrorCode.UNSUPPORTED_MEDIA_TYPE, 'validation_error'],
    ['send', 401, ErrorCode.UNAUTHORIZED, 'unauthorized'],
    ['send', 400, ErrorCode.PHONE_INVALID, 'phone_invalid'],
    ['send', 403, ErrorCode.COUNTRY_NOT_ALLOWED, 'country_not_allowed'],
    ['send', 503, ErrorCode.SERVICE_UNAVAILABLE, 'unavailable'],
    ['send', 500, ErrorCode.INTERNAL_ERROR, 'error'],
    ['send', 500, 'SOMETHING_ELSE', 'error'],
    ['send', 502, undefined, 'error'],
  ] as const)('%s %i %s → %s', (operation, status, code, expected) => {
    expect(otpResult(operation, status, code)).toBe(expected);
  });

  it('gives every ErrorCode a lower-case label, so label values stay a fixed set', () => {
    for (const code of Object.values(ErrorCode)) {
      expect(otpResult('send', 400, code)).toMatch(/^[a-z_]+$/);
    }
  });
});

describe('errorCodeLabel', () => {
  it('keeps ErrorCodes and folds anything else into OTHER', () => {
    expect(errorCodeLabel('OTP_INVALID')).toBe('OTP_INVALID');
    expect(errorCodeLabel('<script>')).toBe('OTHER');
    expect(errorCodeLabel(undefined)).toBe('OTHER');
  });
});
