import { type EventJobData, eventsQueueName, isCluster, type Logger, type RedisClient } from '@otp/core';
import { Worker } from 'bullmq';
import { Counter, type Registry } from 'prom-client';
import type { createEventDelivery, EventDeliveryResult } from './event-delivery.js';

export interface EventsWorkerOptions {
  /** A connection with `maxRetriesPerRequest: null`, as BullMQ workers need. */
  connection: RedisClient;
  /** The send queue's name; the events queue is `<name>-events`. */
  queueName: string;
  queuePrefix: string;
  concurrency: number;
  deliver: ReturnType<typeof createEventDelivery>;
  /** Where the delivery counters go (the worker's /metrics). */
  registry: Registry;
  logger: Logger;
}

/**
 * The second BullMQ worker of the worker process: delivers outbound events from their own
 * queue, with its own small concurrency, so a slow or failing receiver never takes a slot
 * from an SMS.
 */
export function createEventsWorker(options: EventsWorkerOptions): Worker<EventJobData, EventDeliveryResult> {
  const queue = eventsQueueName(options.queueName, isCluster(options.connection));
  const log = options.logger.child({ component: 'events', queue });
  const registers = [options.registry];
  const delivered = new Counter({
    name: 'otp_events_delivered_total',
    help: 'Outbound events the receiver took (2xx), by type.',
    labelNames: ['type'] as const,
    registers,
  });
  const attemptErrors = new Counter({
    name: 'otp_event_delivery_errors_total',
    help: 'Outbound event delivery attempts that failed (not 2xx, timeout, refused); each is retried until EVENTS_MAX_ATTEMPTS.',
    labelNames: ['type'] as const,
    registers,
  });
  const failed = new Counter({
    name: 'otp_events_failed_total',
    help: 'Outbound events given up after EVENTS_MAX_ATTEMPTS attempts, by type (kept in the events queue for a week).',
    labelNames: ['type'] as const,
    registers,
  });
  const type = (data: EventJobData | undefined) => `verification.${data?.status ?? 'unknown'}`;

  const worker = new Worker<EventJobData, EventDeliveryResult>(queue, (job) => options.deliver(job), {
    connection: options.connection,
    prefix: options.queuePrefix,
    concurrency: options.concurrency,
  });
  worker.on('completed', (job, result) => {
    if (result.outcome !== 'delivered') return;
    delivered.inc({ type: type(job.data) });
    log.debug({ eventId: job.data.eventId, verificationId: job.data.verificationId }, 'event delivered');
  });
  worker.on('failed', (job, err) => {
    if (!job) return;
    const ids = { eventId: job.data.eventId, verificationId: job.data.verificationId, type: type(job.data) };
    attemptErrors.inc({ type: type(job.data) });
    const attempts = job.opts.attempts ?? 1;
    if (job.attemptsMade >= attempts) {
      failed.inc({ type: type(job.data) });
      log.error({ ...ids, err, attempts: job.attemptsMade }, 'event given up');
    } else {
      log.warn({ ...ids, err, attempt: job.attemptsMade }, 'event delivery failed; will retry');
    }
  });
  worker.on('error', (err) => log.error({ err }, 'events worker error'));
  return worker;
}

/** Counts status changes whose event could not be queued (Redis did not answer); each is also logged. */
export function eventEnqueueErrorCounter(registry: Registry): Counter<'status'> {
  return new Counter({
    name: 'otp_events_enqueue_errors_total',
    help: 'Status changes whose outbound event could not be queued (lost), by status.',
    labelNames: ['status'] as const,
    registers: [registry],
  });
}
