import {
  createCodeStore,
  createHeartbeat,
  createStatusStore,
  deriveKeyRing,
  type Heartbeat,
  heartbeatKeys,
  type Logger,
} from '@otp/core';
import type { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { WorkerConfig } from './config.js';
import { createWorkerTelemetry, type WorkerTelemetry } from './metrics/worker-telemetry.js';
import { type ChainLink, createSendProcessor } from './processor.js';
import { createDebugProvider } from './providers/debug-provider.js';
import { type ChainProvider, createChainProviders } from './providers/registry.js';
import { createSharedBreaker, type SharedBreaker } from './providers/shared-breaker.js';
import { composeSendListeners } from './send-events.js';
import { createSendWorker } from './send-worker.js';
import { createStatusListener } from './status-listener.js';

export interface WorkerServiceOptions {
  /**
   * The chain's providers instead of those config.providers names (tests put a second fake
   * provider behind the first). @defaultValue built from the registry
   */
  providers?: ChainProvider[];
}

export interface WorkerService {
  worker: Worker;
  /** The chain, in order: each provider with its breaker. */
  chain: readonly ChainLink[];
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
export function createWorkerService(
  config: WorkerConfig,
  logger: Logger,
  options: WorkerServiceOptions = {},
): WorkerService {
  // BullMQ workers block on Redis and must never give up on a command mid-outage.
  const connection = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
  connection.on('error', (err) => logger.error({ err, component: 'redis' }, 'redis connection error'));
  // The jobs' own commands (liveness, status records, breaker) on a second connection with
  // auto-pipelining: what concurrent jobs ask in one tick leaves in one write. BullMQ keeps
  // the first to itself, so its commands are never queued behind a batch.
  const commands = new Redis(config.redisUrl, { maxRetriesPerRequest: null, enableAutoPipelining: true });
  commands.on('error', (err) => logger.error({ err, component: 'redis' }, 'redis connection error'));

  const chain: ChainLink[] = (options.providers ?? createChainProviders(config, logger)).map(
    ({ provider, secrets }) => ({
      provider,
      secrets,
      // The debug provider cannot fail; a breaker would only add Redis round trips.
      ...(provider.name === 'debug'
        ? {}
        : {
            breaker: createSharedBreaker({
              provider: provider.name,
              redis: commands,
              keyPrefix: config.redisKeyPrefix,
              failureThreshold: config.breaker.failureThreshold,
              cooldownMs: config.breaker.cooldownMs,
              logger,
            }),
          }),
    }),
  );
  const breakers = chain.flatMap((link) => (link.breaker ? [link.breaker] : [])) as SharedBreaker[];
  // Aborted at the shutdown deadline, so a send in flight stops instead of racing the retry.
  const shutdown = new AbortController();

  // Tells an API in debug mode that this queue's SMS are real (see plugins/otp.ts in the API).
  const heartbeat = createHeartbeat({
    redis: connection,
    keys: heartbeatKeys(config.redisKeyPrefix, config.queueName),
    // The chain's first provider: `debug` exactly in debug mode, else the real one.
    transport: chain[0]?.provider.name ?? 'debug',
    onError: (err) => logger.warn({ err }, 'could not write the worker heartbeat'),
  });
  heartbeat.start();

  const telemetry = createWorkerTelemetry({
    connection,
    queueName: config.queueName,
    queuePrefix: config.queuePrefix,
    provider: chain[0]?.provider.name ?? 'none',
    breakers,
    port: config.metricsPort,
    host: config.metricsHost,
    logger,
  });

  const processor = createSendProcessor({
    store: createCodeStore({
      redis: commands,
      keyPrefix: config.redisKeyPrefix,
      maxAttempts: config.otpMaxAttempts,
      // The worker only asks whether a code is live; these two matter to issuing only.
      ttlSeconds: 1,
      resendCooldownSeconds: 0,
    }),
    keys: deriveKeyRing(config.otpSecret, config.otpSecretPrevious),
    template: config.smsTemplate,
    chain,
    failoverAfter: config.failoverAfter,
    fallback: !config.debugMode && config.debugFallback ? createDebugProvider(logger, 'fallback') : undefined,
    signal: shutdown.signal,
    retryMaxDelayMs: config.retryMaxDelayMs,
    logger,
    onEvent: composeSendListeners(
      createStatusListener(createStatusStore({ redis: commands, keyPrefix: config.redisKeyPrefix })),
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
    stalled: config.stalled,
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
        logger.warn({ deadlineMs }, 'shutdown deadline passed; aborting sends in flight');
        shutdown.abort(new Error('worker shutdown deadline passed'));
        await worker.close(true);
      }
      await heartbeat.stop();
      await telemetry.close();
      await Promise.all([connection.quit(), commands.quit()]);
      return outcome;
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    worker,
    chain,
    telemetry,
    heartbeat,
    close(deadlineMs) {
      closing ??= close(deadlineMs);
      return closing;
    },
  };
}
