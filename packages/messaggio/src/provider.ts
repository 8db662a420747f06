import { SmsError, type SmsErrorScope, type SmsProvider } from '@otp/sms';
import type { MessaggioClient } from './client.js';
import { isMessaggioError, type MessaggioErrorCode } from './errors.js';

export interface MessaggioProviderOptions {
  client: MessaggioClient;
  /** sms.from: the sender code for API. */
  sender: string;
  /**
   * options.dlr_callback_url: where Messaggio POSTs this SMS's delivery reports. It holds the
   * webhook secret, so it is never logged.
   * @defaultValue undefined (the project's callback URL from the dashboard, if any)
   */
  dlrCallbackUrl?: string;
  /** The provider's name in the chain; a second Messaggio project may run under another. @defaultValue 'messaggio' */
  name?: string;
}

/**
 * What each failure means for the chain. 401/402/403 are this account's problem (login,
 * balance): another provider may still send. 400/422 and a rejected recipient are this
 * message's: no provider will do better. 404 is a wrong base URL: this provider is unusable.
 */
const SCOPE: Record<MessaggioErrorCode, SmsErrorScope> = {
  MESSAGGIO_TIMEOUT: 'transient',
  MESSAGGIO_NETWORK: 'transient',
  MESSAGGIO_RATE_LIMITED: 'transient',
  MESSAGGIO_SERVER_ERROR: 'transient',
  MESSAGGIO_REQUEST_TIMEOUT: 'transient',
  MESSAGGIO_BAD_RESPONSE: 'transient',
  MESSAGGIO_UNAUTHORIZED: 'provider',
  MESSAGGIO_NO_BALANCE: 'provider',
  MESSAGGIO_FORBIDDEN: 'provider',
  MESSAGGIO_NOT_FOUND: 'provider',
  MESSAGGIO_HTTP_ERROR: 'provider',
  MESSAGGIO_BAD_REQUEST: 'message',
  MESSAGGIO_RECIPIENT_REJECTED: 'message',
};

/** Maps anything the Messaggio client throws into the one scoped error type. */
export function toSmsError(err: unknown, provider = 'messaggio'): unknown {
  if (!isMessaggioError(err)) return err;
  return new SmsError({
    provider,
    scope: SCOPE[err.code] ?? 'transient',
    code: err.code,
    message: err.message,
    ...(err.status === undefined ? {} : { status: err.status }),
    ...(err.retryAfterMs === undefined ? {} : { retryAfterMs: err.retryAfterMs }),
    cause: err,
  });
}

/** Messaggio as an {@link SmsProvider}: every MessaggioError becomes an SmsError with its scope. */
export function createMessaggioProvider(options: MessaggioProviderOptions): SmsProvider {
  const name = options.name ?? 'messaggio';
  return {
    name,
    async send(message, sendOptions) {
      try {
        const result = await options.client.send(
          {
            phone: message.phone,
            sender: options.sender,
            text: message.text,
            externalId: message.verificationId,
            ttlSeconds: message.ttlSeconds,
            ...(options.dlrCallbackUrl === undefined ? {} : { dlrCallbackUrl: options.dlrCallbackUrl }),
          },
          sendOptions?.signal ? { signal: sendOptions.signal } : undefined,
        );
        return { provider: name, providerMessageId: result.messageId };
      } catch (err) {
        throw toSmsError(err, name);
      }
    },
  };
}
