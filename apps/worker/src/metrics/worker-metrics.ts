import { registerQueueDepthMetrics } from '@otp/core';
import type { Queue } from 'bullmq';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import type { SendEvent } from '../send-events.js';

export interface WorkerMetricsOptions {
  /** The send queue, whose depth is read at each scrape. */
  queue: Pick<Queue, 'getJobCounts' | 'name'>;
  /** The `provider` label of events that carry no transport (skipped jobs). */
  provider: string;
  /**
   * Also report Node's process metrics. They install process-wide observers that cannot be
   * removed, so only a real process (the metrics port on) turns them on. @defaultValue false
   */
  processMetrics?: boolean;
  /** How long a scrape waits for the queue's counts. @defaultValue 1000 */
  queueScrapeTimeoutMs?: number;
}

export interface WorkerMetrics {
  /** This worker's own registry (no global default registry). */
  registry: Registry;
  /** The processor's event listener: compose it with the others in worker-service.ts. */
  onSendEvent(event: SendEvent): void;
}

// From the API accepting the request to Messaggio accepting the SMS: normally under a
// second, minutes when retries wait out an outage.
const LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600];

/** Delivery metrics fed by the processor's events, plus queue depth read at scrape time. */
export function createWorkerMetrics(options: WorkerMetricsOptions): WorkerMetrics {
  const registry = new Registry();
  const registers = [registry];
  if (options.processMetrics) collectDefaultMetrics({ register: registry });

  const deliveries = new Counter({
    name: 'otp_sms_deliveries_total',
    help: 'Send attempts by provider and result: sent, retry (failed, will retry), failed (for good), skipped (code no longer usable).',
    labelNames: ['provider', 'result', 'country'] as const,
    registers,
  });
  const deliveryErrors = new Counter({
    name: 'otp_sms_delivery_errors_total',
    help: "Failed send attempts by provider and error code (MESSAGGIO_FORBIDDEN, MESSAGGIO_TIMEOUT, …); permanent=true when retrying can't help.",
    labelNames: ['provider', 'code', 'permanent'] as const,
    registers,
  });
  const latency = new Histogram({
    name: 'otp_sms_delivery_latency_seconds',
    help: 'From the API accepting the request to the provider accepting the SMS.',
    labelNames: ['provider'] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  });

  registerQueueDepthMetrics(registry, options.queue, options.queueScrapeTimeoutMs ?? 1000);

  return {
    registry,
    onSendEvent(event) {
      switch (event.type) {
        case 'sent':
          deliveries.inc({ provider: event.transport, result: 'sent', country: event.country });
          latency.observe({ provider: event.transport }, event.latencyMs / 1000);
          return;
        case 'retrying':
          deliveries.inc({ provider: event.transport, result: 'retry', country: event.country });
          deliveryErrors.inc({ provider: event.transport, code: event.errorCode, permanent: 'false' });
          return;
        case 'failed':
          deliveries.inc({ provider: event.transport, result: 'failed', country: event.country });
          deliveryErrors.inc({
            provider: event.transport,
            code: event.errorCode,
            permanent: String(event.permanent),
          });
          return;
        case 'skipped':
          deliveries.inc({ provider: options.provider, result: 'skipped', country: event.country });
          return;
        case 'sending':
          return;
        default: {
          // A new event type must decide here whether (and how) it is counted.
          const unhandled: never = event;
          return unhandled;
        }
      }
    },
  };
}
