export { parseRetryAfter } from '@otp/sms';

// Which failures of a Twilio send mean what for the provider chain. Source of truth: the
// classification table in docs/twilio-api.md ("Errors"); the scopes are @otp/sms's.
import type { SmsErrorScope } from '@otp/sms';

/** The provider name Twilio's errors, receipts and reports carry. */
export const TWILIO = 'twilio';

interface KnownCode {
  scope: SmsErrorScope;
  /** What went wrong, for operators; never echoes what Twilio sent back. */
  summary: string;
  /** `provider` scope for this destination only: fail over, but do not trip the breaker. */
  destinationOnly?: true;
}

/**
 * Twilio error codes this client knows, each with the scope its action in the doc's table maps
 * to: "retry" → `transient`, "fail over" → `provider`, "fail" → `message`. Only these become
 * `TWILIO_<code>`, so the set of `SmsError.code` values (a metrics label) stays bounded.
 */
export const TWILIO_ERROR_CODES = {
  20003: {
    scope: 'provider',
    summary:
      'Twilio refused the credentials (wrong Account SID or Auth Token, a deleted key, or a suspended or closed account)',
  },
  20404: {
    scope: 'provider',
    summary: 'Twilio has no such resource; check TWILIO_BASE_URL and TWILIO_ACCOUNT_SID',
  },
  20429: { scope: 'transient', summary: 'Twilio refused the request: too many concurrent requests' },
  // "A message may exist" [ERR 20500]: a retry can send a second SMS, which for an OTP is the
  // lesser harm than none.
  20500: { scope: 'transient', summary: 'Twilio had an internal error; the message may have been created' },
  20503: { scope: 'transient', summary: 'Twilio is temporarily unavailable' },
  21211: { scope: 'message', summary: 'Twilio says the To number is not a valid phone number' },
  21614: { scope: 'message', summary: 'Twilio says the To number is not a mobile number' },
  // Opted out with STOP: another provider must not route around it.
  21610: { scope: 'message', summary: 'The recipient has opted out (STOP) of messages from this sender' },
  21602: { scope: 'message', summary: 'Twilio says the message has no Body' },
  21603: { scope: 'message', summary: 'Twilio says the message has neither From nor MessagingServiceSid' },
  21604: { scope: 'message', summary: 'Twilio says the message has no To number' },
  21617: { scope: 'message', summary: 'Twilio says the Body is longer than 1,600 characters' },
  // Account settings and senders: every message through this account fails alike until
  // someone changes them, and another provider may well deliver it. The ones marked
  // destinationOnly fail only for some destinations (a country, a route, unverified numbers):
  // fail over, but other messages still go through Twilio.
  21408: {
    scope: 'provider',
    summary: 'Twilio may not send to this destination (Messaging Geo Permissions)',
    destinationOnly: true,
  },
  21606: { scope: 'provider', summary: 'TWILIO_FROM is not an SMS-capable sender of this account' },
  21608: {
    scope: 'provider',
    summary: 'A Twilio trial account may only send to verified numbers',
    destinationOnly: true,
  },
  21609: { scope: 'provider', summary: 'Twilio refused TWILIO_STATUS_CALLBACK_URL as the StatusCallback' },
  21611: { scope: 'provider', summary: "TWILIO_FROM's queue already holds over 10 hours of messages" },
  21612: {
    scope: 'provider',
    summary: 'Twilio cannot route between this To number and the sender',
    destinationOnly: true,
  },
  21659: {
    scope: 'provider',
    summary: 'The TWILIO_FROM short code does not serve this country',
    destinationOnly: true,
  },
  21705: { scope: 'provider', summary: 'TWILIO_MESSAGING_SERVICE_SID is not a valid Messaging Service' },
  21212: { scope: 'provider', summary: 'TWILIO_FROM is not a valid sender number' },
} as const satisfies Record<number, KnownCode>;

export type KnownTwilioCode = keyof typeof TWILIO_ERROR_CODES;

/**
 * Stable codes for every way a Twilio send can fail. Callers branch on the error's `scope`;
 * these are for logs, metrics and alerts.
 */
export type TwilioErrorCode =
  | `TWILIO_${KnownTwilioCode}`
  /** No answer within `timeoutMs` (the message may exist). */
  | 'TWILIO_TIMEOUT'
  /** No connection, reset, DNS. */
  | 'TWILIO_NETWORK'
  /** A 2xx whose body is not a Message resource. */
  | 'TWILIO_BAD_RESPONSE'
  /** Refused before calling Twilio: the message cannot be sent as it is. */
  | 'TWILIO_INVALID_REQUEST'
  /** The statuses below, when Twilio's body names no code of the table above. */
  | 'TWILIO_RATE_LIMITED'
  | 'TWILIO_SERVER_ERROR'
  | 'TWILIO_REQUEST_TIMEOUT'
  | 'TWILIO_UNAUTHORIZED'
  | 'TWILIO_FORBIDDEN'
  | 'TWILIO_NOT_FOUND'
  | 'TWILIO_REJECTED'
  | 'TWILIO_HTTP_ERROR';

export interface TwilioClassification {
  scope: SmsErrorScope;
  /** A `provider` error for this destination only (see `SmsError.destinationOnly`). */
  destinationOnly?: boolean;
  code: TwilioErrorCode;
  summary: string;
}

function isKnownCode(code: number | undefined): code is KnownTwilioCode {
  return code !== undefined && Object.hasOwn(TWILIO_ERROR_CODES, code);
}

/**
 * Classifies a non-2xx answer by its HTTP status and Twilio's error `code` (when the body had
 * one). The status decides for 408, 429, 5xx (transient: "never processed and always safe to
 * retry" for 429, "try again" for 503) and 401/403 (provider), whatever the code says; the code
 * decides for the rest. An unknown code on a 400/422 is `message`, as the doc advises for
 * unknown 2xxxx codes on the send; any other unexpected status means this provider is not set
 * up right (wrong base URL, account), so `provider`.
 */
export function classifyTwilioError(status: number, twilioCode?: number): TwilioClassification {
  const known = isKnownCode(twilioCode) ? TWILIO_ERROR_CODES[twilioCode] : undefined;
  const code = (fallback: TwilioErrorCode): TwilioErrorCode =>
    known === undefined ? fallback : `TWILIO_${twilioCode as KnownTwilioCode}`;
  const summary = (fallback: string): string => known?.summary ?? fallback;

  if (status === 429) {
    return {
      scope: 'transient',
      code: code('TWILIO_RATE_LIMITED'),
      summary: summary('Twilio rate limited us'),
    };
  }
  if (status >= 500 && status <= 599) {
    return {
      scope: 'transient',
      code: code('TWILIO_SERVER_ERROR'),
      summary: summary('Twilio had a server error'),
    };
  }
  if (status === 408) {
    return {
      scope: 'transient',
      code: code('TWILIO_REQUEST_TIMEOUT'),
      summary: summary('Twilio timed out reading our request'),
    };
  }
  if (status === 401) {
    return {
      scope: 'provider',
      code: code('TWILIO_UNAUTHORIZED'),
      summary: summary('Twilio refused the credentials'),
    };
  }
  if (status === 403) {
    return {
      scope: 'provider',
      code: code('TWILIO_FORBIDDEN'),
      summary: summary('Twilio refused this account the request'),
    };
  }
  if (known !== undefined) {
    return {
      scope: known.scope,
      code: code('TWILIO_REJECTED'),
      summary: known.summary,
      ...('destinationOnly' in known ? { destinationOnly: true } : {}),
    };
  }
  if (status === 400 || status === 422) {
    return { scope: 'message', code: 'TWILIO_REJECTED', summary: 'Twilio rejected the message' };
  }
  if (status === 404) {
    return {
      scope: 'provider',
      code: 'TWILIO_NOT_FOUND',
      summary: 'Twilio has no such resource; check TWILIO_BASE_URL and TWILIO_ACCOUNT_SID',
    };
  }
  return {
    scope: 'provider',
    code: 'TWILIO_HTTP_ERROR',
    summary: 'Twilio answered with an unexpected HTTP status',
  };
}
