import { registerQueueDepthMetrics } from '@otp/core';
import type { Queue } from 'bullmq';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { BREAKER_STATE_VALUE, type SharedBreaker } from '../providers/shared-breaker.js';
import type { SendEvent } from '../send-events.js';

export interface WorkerMetricsOptions {
  /** The send queue(s), whose depth is read at each scrape. */
  queue: Pick<Queue, 'getJobCounts' | 'name'> | readonly Pick<Queue, 'getJobCounts' | 'name'>[];
  /** The `provider` label of events that carry no transport (skipped jobs). */
  provider: string;
  /**
   * Also report Node's process metrics. They install process-wide observers that cannot be
   * removed, so only a real process (the metrics port on) turns them on. @defaultValue false
   */
  processMetrics?: boolean;
  /** How long a scrape waits for the queue's counts. @defaultValue 1000 */
  queueScrapeTimeoutMs?: number;
  /** The chain's breakers, whose shared state is read at each scrape. @defaultValue [] */
  breakers?: readonly Pick<SharedBreaker, 'provider' | 'state'>[];
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
    help: 'Send attempts by provider and result: sent, retry (failed, will retry), failover (failed, the next provider takes it), failed (for good), skipped (code no longer usable).',
    labelNames: ['provider', 'result', 'country'] as const,
    registers,
  });
  const deliveryErrors = new Counter({
    name: 'otp_sms_delivery_errors_total',
    help: "Failed send attempts by provider, the provider's error code (MESSAGGIO_FORBIDDEN, MESSAGGIO_TIMEOUT, …) and scope (transient, provider, message); permanent=true when retrying can't help.",
    labelNames: ['provider', 'code', 'scope', 'permanent'] as const,
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
  const breakers = options.breakers ?? [];
  new Gauge({
    name: 'otp_provider_circuit_state',
    help: 'Each provider’s circuit breaker, shared by all workers: 0 closed, 1 half-open (one probe may try), 2 open (skipped).',
    labelNames: ['provider'] as const,
    registers,
    async collect() {
      const states = await Promise.allSettled(breakers.map((breaker) => breaker.state()));
      this.reset();
      states.forEach((state, i) => {
        const provider = breakers[i]?.provider;
        // A scrape during a Redis outage leaves the breaker out rather than guessing.
        if (provider !== undefined && state.status === 'fulfilled') {
          this.set({ provider }, BREAKER_STATE_VALUE[state.value]);
        }
      });
    },
  });

  return {
    registry,
    onSendEvent(event) {
      switch (event.type) {
        case 'sent':
          deliveries.inc({ provider: event.provider, result: 'sent', country: event.country });
          latency.observe({ provider: event.provider }, event.latencyMs / 1000);
          return;
        case 'retrying':
          deliveries.inc({
            provider: event.provider,
            result: event.next === undefined ? 'retry' : 'failover',
            country: event.country,
          });
          deliveryErrors.inc({
            provider: event.provider,
            code: event.errorCode,
            scope: event.scope,
            permanent: 'false',
          });
          return;
        case 'failed':
          deliveries.inc({ provider: event.provider, result: 'failed', country: event.country });
          deliveryErrors.inc({
            provider: event.provider,
            code: event.errorCode,
            scope: event.scope,
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
