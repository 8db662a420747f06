import type { Logger } from '@otp/core';
import { Queue, type Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { type MetricsServer, startMetricsServer } from './metrics-server.js';
import { createWorkerMetrics, type WorkerMetrics } from './worker-metrics.js';

export interface WorkerTelemetryOptions {
  /** The worker's connection; shared, never closed here. */
  connection: Redis;
  queueName: string;
  queuePrefix: string;
  /** The main transport's name, for events without one. */
  provider: string;
  /** METRICS_PORT; 0 = no HTTP port (and no process metrics). */
  port: number;
  host: string;
  logger: Logger;
  /** How long /health/ready and a scrape wait for Redis. @defaultValue 1000 */
  redisTimeoutMs?: number;
}

export interface WorkerTelemetry {
  metrics: WorkerMetrics;
  /** Opens the HTTP port (when configured) once the BullMQ worker exists, for readiness. */
  serve(worker: Worker): void;
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

/** The worker's metrics, and the port that serves them with its health checks. */
export function createWorkerTelemetry(options: WorkerTelemetryOptions): WorkerTelemetry {
  const redisTimeoutMs = options.redisTimeoutMs ?? 1000;
  // A producer-side handle for job counts only; it shares the worker's connection.
  const queue = new Queue(options.queueName, {
    connection: options.connection,
    prefix: options.queuePrefix,
    // No wait for 'ready' (the scrape has its own timeout): that wait, left pending when the
    // queue closes before its shared connection ends during an outage, rejected later with
    // nobody listening (an unhandled ECONNREFUSED). The version check would need Redis too.
    skipWaitingForReady: true,
    skipVersionCheck: true,
  });
  queue.on('error', () => {}); // the connection's own listener logs Redis errors
  const metrics = createWorkerMetrics({
    queue,
    provider: options.provider,
    processMetrics: options.port > 0,
    queueScrapeTimeoutMs: redisTimeoutMs,
  });
  let server: MetricsServer | undefined;
  const log = options.logger.child({ component: 'metrics-server' });

  return {
    metrics,
    serve(worker) {
      if (options.port === 0 || server) return;
      server = startMetricsServer({
        port: options.port,
        host: options.host,
        registry: metrics.registry,
        isReady: async () =>
          worker.isRunning() &&
          !worker.closing &&
          (await within(redisTimeoutMs, () => options.connection.ping())),
        logger: options.logger,
      });
      server.listening.then(
        (port) => log.info({ port, host: options.host }, 'metrics and health checks listening'),
        // Sending SMS matters more than being scraped: keep working, say so loudly.
        (err: unknown) =>
          log.error(
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
      await queue.close();
    },
  };
}
