import type { MessaggioClient } from '@otp/messaggio';
import type { SmsTransport } from './sms-transport.js';

export interface MessaggioTransportOptions {
  client: MessaggioClient;
  /** sms.from: the sender code for API. */
  sender: string;
}

/** Sends through Messaggio; its MessaggioError already says whether a retry can help. */
export function createMessaggioTransport({ client, sender }: MessaggioTransportOptions): SmsTransport {
  return {
    name: 'messaggio',
    async send(message) {
      const result = await client.send({
        phone: message.phone,
        sender,
        text: message.text,
        externalId: message.verificationId,
        ttlSeconds: message.ttlSeconds,
      });
      return { providerMessageId: result.messageId };
    },
  };
}
