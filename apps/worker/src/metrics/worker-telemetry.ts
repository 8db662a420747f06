import type { Logger, RedisClient } from '@otp/core';
import { Queue, type Worker } from 'bullmq';
import type { SharedBreaker } from '../providers/shared-breaker.js';
import { type MetricsServer, startMetricsServer } from './metrics-server.js';
import { createWorkerMetrics, type WorkerMetrics } from './worker-metrics.js';

export interface WorkerTelemetryOptions {
  /** The worker's connection; shared, never closed here. */
  connection: RedisClient;
  /** The send queue, or every shard's (QUEUE_SHARDS). */
  queueName: string | readonly string[];
  queuePrefix: string;
  /** The first provider's name, for events without one (skipped jobs). */
  provider: string;
  /** The chain's breakers: a gauge each, and their state in /health/ready. @defaultValue [] */
  breakers?: readonly SharedBreaker[];
  /** METRICS_PORT; 0 = no HTTP port (and no process metrics). */
  port: number;
  host: string;
  logger: Logger;
  /** How long /health/ready and a scrape wait for Redis. @defaultValue 1000 */
  redisTimeoutMs?: number;
}

export interface WorkerTelemetry {
  metrics: WorkerMetrics;
  /** Opens the HTTP port (when configured) once the BullMQ worker(s) exist, for readiness. */
  serve(worker: Worker | readonly Worker[]): void;
  /** The port actually bound; undefined when off or not bound (yet). */
  port(): Promise<number | undefined>;
  /** Closes the port and the metrics' queue handle; the connection is left to its owner. */
  close(): Promise<void>;
}

/** Resolves whether `check` succeeded within `timeoutMs`, clearing its timer either way. */
async function within(timeoutMs: number, check: () => Promise<unknown>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([
      check().then(
        () => true,
        () => false,
      ),
      deadline,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** `promise`, or a rejection once `timeoutMs` passed; the timer is cleared either way. */
async function orTimeout<T>(timeoutMs: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** The worker's metrics, and the port that serves them with its health checks. */
export function createWorkerTelemetry(options: WorkerTelemetryOptions): WorkerTelemetry {
  const redisTimeoutMs = options.redisTimeoutMs ?? 1000;
  // The worker's connection never gives up on a command; a scrape or a health check must.
  const breakers = (options.breakers ?? []).map((breaker) => ({
    provider: breaker.provider,
    state: () => orTimeout(redisTimeoutMs, breaker.state()),
  }));
  // Producer-side handles for job counts only; they share the worker's connection.
  const queues = (typeof options.queueName === 'string' ? [options.queueName] : options.queueName).map(
    (name) => {
      const queue = new Queue(name, {
        connection: options.connection,
        prefix: options.queuePrefix,
        // No wait for 'ready' (the scrape has its own timeout): that wait, left pending when the
        // queue closes before its shared connection ends during an outage, rejected later with
        // nobody listening (an unhandled ECONNREFUSED). The version check would need Redis too.
        skipWaitingForReady: true,
        skipVersionCheck: true,
      });
      queue.on('error', () => {}); // the connection's own listener logs Redis errors
      return queue;
    },
  );
  const metrics = createWorkerMetrics({
    queue: queues,
    provider: options.provider,
    processMetrics: options.port > 0,
    queueScrapeTimeoutMs: redisTimeoutMs,
    breakers,
  });
  let server: MetricsServer | undefined;
  const log = options.logger.child({ component: 'metrics-server' });

  return {
    metrics,
    serve(served) {
      if (options.port === 0 || server) return;
      const workers: readonly Worker[] = Array.isArray(served) ? served : [served as Worker];
      server = startMetricsServer({
        port: options.port,
        host: options.host,
        registry: metrics.registry,
        isReady: async () =>
          workers.every((worker) => worker.isRunning() && !worker.closing) &&
          (await within(redisTimeoutMs, () => options.connection.ping())),
        detail: async () => {
          const states = await Promise.allSettled(breakers.map((breaker) => breaker.state()));
          return {
            providers: Object.fromEntries(
              breakers.map((breaker, i) => {
                const state = states[i];
                return [
                  breaker.provider,
                  { circuit: state?.status === 'fulfilled' ? state.value : 'unknown' },
                ];
              }),
            ),
          };
        },
        logger: options.logger,
      });
      server.listening.then(
        (port) => log.info({ port, host: options.host }, 'metrics and health checks listening'),
        // Sending SMS matters more than being scraped: keep working, say so loudly.
        (err: unknown) =>
          (err as NodeJS.ErrnoException).code === 'EADDRINUSE'
            ? log.error(
                { port: options.port },
                `port ${options.port} is in use; set METRICS_PORT (metrics and health checks are off)`,
              )
            : log.error(
                { err, port: options.port },
                'could not open METRICS_PORT; metrics and health checks are off',
              ),
      );
    },
    async port() {
      return server?.listening.catch(() => undefined);
    },
    async close() {
      await server?.close();
      await Promise.all(queues.map((queue) => queue.close()));
    },
  };
}
