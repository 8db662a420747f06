import { registerQueueDepthMetrics } from '@otp/core';
import type { Queue } from 'bullmq';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { OtpOperation } from './otp-results.js';

export interface ApiMetricsOptions {
  /** The send queue(s), whose depth is read at each scrape. */
  queue: Pick<Queue, 'getJobCounts' | 'name'> | readonly Pick<Queue, 'getJobCounts' | 'name'>[];
  /**
   * Also report Node's process metrics (CPU, memory, event loop lag, GC). They install
   * process-wide observers that cannot be removed, so only the process entry turns them on,
   * never an app built by a test. @defaultValue false
   */
  processMetrics?: boolean;
  /** How long a scrape waits for the queue's counts. @defaultValue 1000 */
  queueScrapeTimeoutMs?: number;
  /** Ranges the fraud guard blocks now, read at each scrape. @defaultValue none (gauge not reported) */
  fraudBlockedRanges?: () => Promise<number>;
}

export interface ApiMetrics {
  /** This app's own registry: several apps in one process (tests) never share a metric. */
  registry: Registry;
  /** One answered request; `route` is the route pattern, never the raw URL. */
  observeRequest(labels: { method: string; route: string; statusCode: number }, seconds: number): void;
  /** One /send-otp/ or /verify-otp/ answer. */
  recordOtp(operation: OtpOperation, labels: { result: string; country: string }): void;
  /** One error answer on any route, by its stable code. */
  recordError(labels: { route: string; code: string }): void;
  /** A status change whose outbound event could not be queued (EVENTS_WEBHOOK_URL). */
  recordEventEnqueueError(labels: { status: string }): void;
  /** A fraud guard block decision (mode `record_only`: a would-be block). */
  recordFraudBlock(labels: { country: string; mode: string }): void;
  /** A send refused by a fraud block (mode `record_only`: one that would have been). */
  recordFraudRefusal(labels: { country: string; mode: string }): void;
}

// Up to the 10 s a request can take when Redis is slow; most answer in a few ms.
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The API's metrics in a registry of their own (no global default registry). */
export function createApiMetrics(options: ApiMetricsOptions): ApiMetrics {
  const registry = new Registry();
  const registers = [registry];
  const scrapeTimeoutMs = options.queueScrapeTimeoutMs ?? 1000;
  if (options.processMetrics) collectDefaultMetrics({ register: registry });

  const httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time to answer an HTTP request, by route pattern and status.',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: HTTP_BUCKETS,
    registers,
  });
  const sends = new Counter({
    name: 'otp_sends_total',
    help: 'POST /send-otp/ answers by result (sent, rate_limited, phone_invalid, …) and country.',
    labelNames: ['result', 'country'] as const,
    registers,
  });
  const verifications = new Counter({
    name: 'otp_verifications_total',
    help: 'POST /verify-otp/ answers by result (verified, invalid, expired, attempts_exceeded, …) and country.',
    labelNames: ['result', 'country'] as const,
    registers,
  });
  const errors = new Counter({
    name: 'otp_api_errors_total',
    help: 'Error answers by route pattern and stable error code.',
    labelNames: ['route', 'code'] as const,
    registers,
  });
  const eventEnqueueErrors = new Counter({
    name: 'otp_events_enqueue_errors_total',
    help: 'Status changes whose outbound event could not be queued (lost), by status.',
    labelNames: ['status'] as const,
    registers,
  });
  const fraudBlocks = new Counter({
    name: 'otp_fraud_blocks_total',
    help: 'Number ranges the fraud guard blocked, by country and mode (record_only: would have blocked).',
    labelNames: ['country', 'mode'] as const,
    registers,
  });
  const fraudRefusals = new Counter({
    name: 'otp_fraud_refused_sends_total',
    help: 'Sends refused by a fraud block, by country and mode (record_only: would have been refused).',
    labelNames: ['country', 'mode'] as const,
    registers,
  });
  const blockedRanges = options.fraudBlockedRanges;
  if (blockedRanges) {
    new Gauge({
      name: 'otp_fraud_suspect_ranges',
      help: 'Number ranges blocked by the fraud guard now (record_only: would-be blocks).',
      registers,
      async collect() {
        // Redis down: the scrape still answers (other metrics say why), the gauge keeps its value.
        try {
          this.set(await blockedRanges());
        } catch {}
      },
    });
  }
  registerQueueDepthMetrics(registry, options.queue, scrapeTimeoutMs);

  return {
    registry,
    observeRequest({ method, route, statusCode }, seconds) {
      httpDuration.observe({ method, route, status_code: String(statusCode) }, seconds);
    },
    recordOtp(operation, labels) {
      (operation === 'send' ? sends : verifications).inc(labels);
    },
    recordError(labels) {
      errors.inc(labels);
    },
    recordEventEnqueueError(labels) {
      eventEnqueueErrors.inc(labels);
    },
    recordFraudBlock(labels) {
      fraudBlocks.inc(labels);
    },
    recordFraudRefusal(labels) {
      fraudRefusals.inc(labels);
    },
  };
}
