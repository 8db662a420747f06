import {
  createCodeStore,
  createHeartbeat,
  createStatusStore,
  deriveKeyRing,
  type Heartbeat,
  heartbeatKeys,
  type Logger,
} from '@otp/core';
import { createMessaggioClient } from '@otp/messaggio';
import type { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { WorkerConfig } from './config.js';
import { createWorkerTelemetry, type WorkerTelemetry } from './metrics/worker-telemetry.js';
import { createSendProcessor } from './processor.js';
import { composeSendListeners } from './send-events.js';
import { createSendWorker } from './send-worker.js';
import { createStatusListener } from './status-listener.js';
import { createDebugTransport } from './transports/debug-transport.js';
import { createMessaggioTransport } from './transports/messaggio-transport.js';
import type { SmsTransport } from './transports/sms-transport.js';

export interface WorkerService {
  worker: Worker;
  transport: SmsTransport;
  /** Metrics registry and the METRICS_PORT server (/metrics, /health/live, /health/ready). */
  telemetry: WorkerTelemetry;
  /** This worker's "alive, running transport X" in Redis; removed on close. */
  heartbeat: Heartbeat;
  /**
   * Stops taking jobs and waits for those in flight, at most `deadlineMs`; then abandons
   * them (their locks expire and another worker retries them: nothing is lost) and closes
   * the connection. Resolves 'drained' or 'deadline'. Idempotent.
   */
  close(deadlineMs?: number): Promise<'drained' | 'deadline'>;
}

/** Builds the worker process's parts from config: connection, transports, processor, BullMQ worker. */
export function createWorkerService(config: WorkerConfig, logger: Logger): WorkerService {
  // BullMQ workers block on Redis and must never give up on a command mid-outage.
  const connection = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
  connection.on('error', (err) => logger.error({ err, component: 'redis' }, 'redis connection error'));

  const transport = config.messaggio
    ? createMessaggioTransport({
        client: createMessaggioClient({
          baseUrl: config.messaggio.baseUrl,
          login: config.messaggio.login,
          timeoutMs: config.messaggio.timeoutMs,
        }),
        sender: config.messaggio.sender,
        dlrCallbackUrl: config.messaggio.dlrCallbackUrl,
      })
    : createDebugTransport(logger, 'debug-mode');

  // Tells an API in debug mode that this queue's SMS are real (see plugins/otp.ts in the API).
  const heartbeat = createHeartbeat({
    redis: connection,
    keys: heartbeatKeys(config.redisKeyPrefix, config.queueName),
    transport: transport.name,
    onError: (err) => logger.warn({ err }, 'could not write the worker heartbeat'),
  });
  heartbeat.start();

  const telemetry = createWorkerTelemetry({
    connection,
    queueName: config.queueName,
    queuePrefix: config.queuePrefix,
    provider: transport.name,
    port: config.metricsPort,
    host: config.metricsHost,
    logger,
  });

  const processor = createSendProcessor({
    store: createCodeStore({
      redis: connection,
      keyPrefix: config.redisKeyPrefix,
      maxAttempts: config.otpMaxAttempts,
      // The worker only asks whether a code is live; these two matter to issuing only.
      ttlSeconds: 1,
      resendCooldownSeconds: 0,
    }),
    keys: deriveKeyRing(config.otpSecret, config.otpSecretPrevious),
    template: config.smsTemplate,
    transport,
    fallback: config.messaggio && config.debugFallback ? createDebugTransport(logger, 'fallback') : undefined,
    logger,
    onEvent: composeSendListeners(
      createStatusListener(createStatusStore({ redis: connection, keyPrefix: config.redisKeyPrefix })),
      telemetry.metrics.onSendEvent,
    ),
  });

  const worker = createSendWorker({
    connection,
    queueName: config.queueName,
    queuePrefix: config.queuePrefix,
    concurrency: config.concurrency,
    rateLimitPerSecond: config.rateLimitPerSecond,
    retryMaxDelayMs: config.retryMaxDelayMs,
    processor,
    logger,
  });
  telemetry.serve(worker);

  let closing: Promise<'drained' | 'deadline'> | undefined;
  async function close(deadlineMs = config.shutdownTimeoutMs): Promise<'drained' | 'deadline'> {
    // worker.close() waits for running jobs with no limit of its own; the deadline is ours.
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'deadline'>((resolve) => {
      timer = setTimeout(() => resolve('deadline'), deadlineMs);
    });
    try {
      const outcome = await Promise.race([worker.close().then(() => 'drained' as const), deadline]);
      if (outcome === 'deadline') {
        logger.warn({ deadlineMs }, 'shutdown deadline passed; abandoning jobs in flight');
        await worker.close(true);
      }
      await heartbeat.stop();
      await telemetry.close();
      await connection.quit();
      return outcome;
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    worker,
    transport,
    telemetry,
    heartbeat,
    close(deadlineMs) {
      closing ??= close(deadlineMs);
      return closing;
    },
  };
}
