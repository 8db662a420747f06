import { type EventJobData, EXPIRY_JOB_NAME, type StatusStore } from '@otp/core';
import { Webhook } from 'standardwebhooks';
import { buildEventPayload } from './event-payload.js';

export interface EventDeliveryOptions {
  url: string;
  /** `whsec_<base64>` (Standard Webhooks). */
  secret: string;
  /** Per attempt, the answer's body included. */
  timeoutMs: number;
  status: Pick<StatusStore, 'get'>;
  /** @defaultValue Date.now */
  now?: () => number;
}

/** A delivery attempt the receiver did not take (not 2xx, a timeout, a refused connection). */
export class EventDeliveryError extends Error {
  override readonly name = 'EventDeliveryError';
  constructor(
    message: string,
    /** The receiver's HTTP status, when it answered. */
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export type EventDeliveryResult =
  | { outcome: 'delivered'; status: number }
  /** An expiry check whose code was verified, canceled or failed first: nothing to announce. */
  | { outcome: 'not_expired' };

/**
 * Delivers one event job: reads the status record, signs the body per Standard Webhooks
 * (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256>` of
 * "id.timestamp.body") with the spec's own library, and POSTs it. Anything but a 2xx
 * throws, and BullMQ retries with backoff. Each attempt is signed afresh: receivers refuse
 * old timestamps, and a retry may come an hour later.
 */
export function createEventDelivery(options: EventDeliveryOptions) {
  const webhook = new Webhook(options.secret);
  const now = options.now ?? Date.now;
  return async (job: { name: string; data: EventJobData }): Promise<EventDeliveryResult> => {
    const { data } = job;
    const record = await options.status.get(data.verificationId);
    if (job.name === EXPIRY_JOB_NAME && record?.status !== 'expired') {
      const final = record === undefined || ['verified', 'failed', 'canceled'].includes(record.status);
      // A worker clock behind the API's: the code is not over yet here. Try again later.
      if (!final && now() < record.expiresAt.getTime()) {
        throw new EventDeliveryError('the code has not expired yet by this clock');
      }
      return { outcome: 'not_expired' };
    }
    const body = JSON.stringify(buildEventPayload(data, record));
    const sentAt = new Date(now());
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'otp-service-events/1',
      'webhook-id': data.eventId,
      'webhook-timestamp': String(Math.floor(sentAt.getTime() / 1000)),
      'webhook-signature': webhook.sign(data.eventId, sentAt, body),
    };
    let response: Response;
    try {
      response = await fetch(options.url, {
        method: 'POST',
        headers,
        body,
        // A redirect is not a delivery: the signed body goes only where it was configured to.
        redirect: 'manual',
        signal: AbortSignal.timeout(options.timeoutMs),
      });
      // The answer's body is not used; reading it (within the timeout) frees the connection.
      await response.arrayBuffer();
    } catch (err) {
      throw new EventDeliveryError('the events receiver did not answer', undefined, { cause: err });
    }
    if (response.status < 200 || response.status > 299) {
      throw new EventDeliveryError(`the events receiver answered ${response.status}`, response.status);
    }
    return { outcome: 'delivered', status: response.status };
  };
}
