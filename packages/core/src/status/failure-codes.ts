/**
 * Why a verification's SMS was given up, as the only words a client ever sees about it
 * (`failure_code` and `failure_reason` in GET /verifications/:id). Fixed text per code: a
 * provider's own error text may quote the request, code and callback secret included, so it
 * goes to the (redacted) logs and never here.
 */
export const FAILURE_CODES = {
  /** A provider said this message can never go (an invalid or unreachable number). */
  SMS_REJECTED: 'The number cannot receive this SMS; it was not sent.',
  /** Every provider in the chain refused to send (credentials, balance, account). */
  SMS_PROVIDER_UNAVAILABLE: 'No SMS provider could accept the message.',
  /** Retries ran out while the providers kept failing. */
  SMS_DELIVERY_FAILED: 'The SMS could not be sent before the retries ran out.',
  /** The job could not be read (a newer API, or a different OTP_SECRET). */
  SMS_JOB_UNREADABLE: 'The SMS could not be prepared.',
  SKIPPED_GONE: 'The code expired or was used before the SMS could be sent.',
  SKIPPED_REPLACED: 'A newer code for this number replaced this one before the SMS was sent.',
  SKIPPED_DEAD: 'Too many wrong codes were tried before the SMS was sent.',
} as const;
export type FailureCode = keyof typeof FAILURE_CODES;

/** The fixed description of a failure code; one for codes this version does not know. */
export function describeFailure(code: string): string {
  return (FAILURE_CODES as Record<string, string>)[code] ?? 'The SMS was not sent.';
}
