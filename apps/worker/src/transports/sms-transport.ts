export interface SmsMessage {
  /** E.164. */
  phone: string;
  text: string;
  /** The code alone; only the debug transport shows it. */
  code: string;
  verificationId: string;
  /** The API request that asked for this code, for the logs. */
  requestId?: string;
  /** How long the code stays valid: no point delivering it later. */
  ttlSeconds: number;
}

export interface SmsReceipt {
  /** The provider's id, keyed by its delivery reports. */
  providerMessageId?: string;
}

/**
 * Something that gets a text to a phone. Failures are thrown; a transport marks the ones
 * retrying cannot fix with `retryable: false` (see MessaggioError).
 */
export interface SmsTransport {
  readonly name: string;
  send(message: SmsMessage): Promise<SmsReceipt>;
}
