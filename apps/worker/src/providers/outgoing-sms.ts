import type { SmsMessage } from '@otp/sms';

/** What the worker hands a provider: the neutral message, plus what only the debug provider reads. */
export interface OutgoingSms extends SmsMessage {
  /** The code alone; only the debug provider shows it. */
  code: string;
  /** The API request that asked for this code, for the logs. */
  requestId?: string;
}
