import { randomUUID } from 'node:crypto';
import type { JobsOptions, Queue } from 'bullmq';
import Type, { type Static } from 'typebox';
import type { StatusChange } from '../status/status-store.js';

/**
 * The status changes announced to EVENTS_WEBHOOK_URL, as `verification.<status>`. `queued`
 * and `sending` are the service's own bookkeeping and are not announced.
 */
export const EVENT_STATUSES = [
  'sent',
  'delivered',
  'undelivered',
  'failed',
  'verified',
  'expired',
  'canceled',
] as const;
export type EventStatus = (typeof EVENT_STATUSES)[number];

/**
 * The events' own BullMQ queue: its retries and backoff never hold up an SMS. On a Redis
 * Cluster its name is a hash tag, as BullMQ needs (every key of a queue in one slot).
 */
export function eventsQueueName(sendQueueName: string, cluster = false): string {
  return cluster ? `{${sendQueueName}-events}` : `${sendQueueName}-events`;
}

/** A status change to announce. */
export const EVENT_JOB_NAME = 'verification-event';
/** Fires once a code's lifetime has passed; announces `expired` only if nothing final came first. */
export const EXPIRY_JOB_NAME = 'expiry-check';

/**
 * What an event job carries: ids, the status and when, nothing else. The worker reads the
 * rest (masked phone, country, metadata, provider) from the status record when it delivers,
 * so neither the phone nor the caller's metadata sits in the queue (or Bull Board), and a
 * change the worker wrote before the API's record existed still goes out complete.
 */
export const EventJobData = Type.Object(
  {
    v: Type.Literal(1),
    /** The event's id (`webhook-id`): the same on every delivery attempt, for de-duplication. */
    eventId: Type.String({ minLength: 1, maxLength: 100 }),
    verificationId: Type.String({ minLength: 1, maxLength: 64 }),
    status: Type.Enum(EVENT_STATUSES),
    /** When the change happened, ms since epoch. */
    at: Type.Integer(),
  },
  { additionalProperties: false },
);
export type EventJobData = Static<typeof EventJobData>;

export interface EventJobOptionsInput {
  /** Delivery attempts before an event is given up. @defaultValue 12 */
  maxAttempts?: number;
  /** The first retry's delay; each next one doubles. @defaultValue 1000 */
  backoffDelayMs?: number;
}

function eventJobOptions(input: EventJobOptionsInput, jobId: string, delay = 0): JobsOptions {
  return {
    jobId,
    ...(delay > 0 ? { delay } : {}),
    attempts: input.maxAttempts ?? 12,
    backoff: { type: 'exponential', delay: input.backoffDelayMs ?? 1000 },
    removeOnComplete: true,
    // Given-up events stay a week for Bull Board (and a manual retry); they hold only ids.
    removeOnFail: { count: 5000, age: 7 * 24 * 3600 },
  };
}

/** How long after the code's expiry the check runs: the worker's clock may run a little behind. */
const EXPIRY_MARGIN_MS = 1000;

export interface StatusEventsOptions {
  queue: Pick<Queue, 'add'>;
  jobOptions?: EventJobOptionsInput;
  /** Told of an event that could not be queued (logged and counted; the request goes on). */
  onEnqueueError: (err: unknown, change: StatusChange) => void;
  /** @defaultValue Date.now */
  now?: () => number;
}

/**
 * The status store's onChange that queues outbound events: one job per announced change,
 * and on `queued` a delayed job that announces `expired` if the code runs out unused. A
 * queue that does not answer loses the event (reported through onEnqueueError), never the
 * request that changed the status.
 */
export function createStatusEvents(options: StatusEventsOptions): (change: StatusChange) => Promise<void> {
  const { queue, jobOptions = {}, onEnqueueError } = options;
  const now = options.now ?? Date.now;
  const announced = new Set<string>(EVENT_STATUSES);
  return async (change) => {
    try {
      if (change.status === 'queued') {
        if (change.expiresAt === undefined) return;
        const data: EventJobData = {
          v: 1,
          eventId: `evt_${randomUUID()}`,
          verificationId: change.verificationId,
          status: 'expired',
          at: change.expiresAt,
        };
        // One per verification (the job id), however often its record is written.
        await queue.add(
          EXPIRY_JOB_NAME,
          data,
          eventJobOptions(
            jobOptions,
            `expiry-${change.verificationId}`,
            Math.max(0, change.expiresAt - now()) + EXPIRY_MARGIN_MS,
          ),
        );
        return;
      }
      if (!announced.has(change.status)) return;
      const eventId = `evt_${randomUUID()}`;
      const data: EventJobData = {
        v: 1,
        eventId,
        verificationId: change.verificationId,
        status: change.status as EventStatus,
        at: change.at,
      };
      await queue.add(EVENT_JOB_NAME, data, eventJobOptions(jobOptions, eventId));
    } catch (err) {
      onEnqueueError(err, change);
    }
  };
}
