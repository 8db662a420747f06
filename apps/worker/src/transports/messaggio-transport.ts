import type { MessaggioClient } from '@otp/messaggio';
import type { SmsTransport } from './sms-transport.js';

export interface MessaggioTransportOptions {
  client: MessaggioClient;
  /** sms.from: the sender code for API. */
  sender: string;
  /**
   * options.dlr_callback_url: where Messaggio POSTs this SMS's delivery reports. It holds the
   * webhook secret, so it is never logged.
   * @defaultValue undefined (the project's callback URL from the dashboard, if any)
   */
  dlrCallbackUrl?: string;
}

/** Sends through Messaggio; its MessaggioError already says whether a retry can help. */
export function createMessaggioTransport({
  client,
  sender,
  dlrCallbackUrl,
}: MessaggioTransportOptions): SmsTransport {
  return {
    name: 'messaggio',
    async send(message) {
      const result = await client.send({
        phone: message.phone,
        sender,
        text: message.text,
        externalId: message.verificationId,
        ttlSeconds: message.ttlSeconds,
        ...(dlrCallbackUrl === undefined ? {} : { dlrCallbackUrl }),
      });
      return { providerMessageId: result.messageId };
    },
  };
}
