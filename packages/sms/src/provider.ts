/** One SMS to one phone, as every provider receives it. */
export interface SmsMessage {
  /** E.164, e.g. `+77011234567`. */
  phone: string;
  /** The full text, code included. Never logged by a provider. */
  text: string;
  /** The verification this SMS belongs to; providers that take a client reference get it. */
  verificationId: string;
  /** How long the code stays valid: a provider that supports a validity period stops trying after it. */
  ttlSeconds: number;
}

/** What a provider answers when it accepted a message. */
export interface SmsReceipt {
  /** The provider's stable name (`messaggio`, `twilio`, `debug`), as in `SMS_PROVIDERS`. */
  provider: string;
  /** The provider's id for this message, which its delivery reports name; absent when it has none. */
  providerMessageId?: string;
}

export interface SmsSendOptions {
  /**
   * Aborted when the caller gives up (e.g. the worker's shutdown deadline). A provider passes
   * it to its HTTP call, so an aborted send does not race a retry elsewhere.
   */
  signal?: AbortSignal;
}

/**
 * Something that gets a text to a phone. A provider throws {@link SmsError} for every failure it
 * understands, with a scope that tells the caller what to do next; anything else it throws is
 * treated as `transient`.
 */
export interface SmsProvider {
  /** Stable, lower-case name, as in `SMS_PROVIDERS` and the `provider` metric label. */
  readonly name: string;
  send(message: SmsMessage, options?: SmsSendOptions): Promise<SmsReceipt>;
}
