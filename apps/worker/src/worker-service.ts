import {
  coalesceWrites,
  createCodeStore,
  createHeartbeat,
  createRedisClient,
  createStatusEvents,
  createStatusStore,
  deriveKeyRing,
  eventsQueueName,
  type Heartbeat,
  heartbeatKeys,
  isCluster,
  type Logger,
  sendQueueNames,
} from '@otp/core';
import { Queue, type Worker } from 'bullmq';
import type { WorkerConfig } from './config.js';
import { createEventDelivery } from './events/event-delivery.js';
import { createEventsWorker, eventEnqueueErrorCounter } from './events/events-worker.js';
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
  /** The first shard's BullMQ worker (with QUEUE_SHARDS=1 the only one). */
  worker: Worker;
  /** The outbound events' worker, with EVENTS_WEBHOOK_URL set. */
  eventsWorker?: Worker;
  /** One BullMQ worker per send queue (QUEUE_SHARDS), in shard order. */
  workers: readonly Worker[];
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
  const connection = createRedisClient(
    config.redisCluster ? { cluster: config.redisCluster } : { url: config.redisUrl },
    { maxRetriesPerRequest: null },
  );
  const queueNames = sendQueueNames(config.queueName, config.queueShards ?? 1, isCluster(connection));
  connection.on('error', (err) => logger.error({ err, component: 'redis' }, 'redis connection error'));
  // One connection for BullMQ and the jobs' own commands (liveness, breaker, status records),
  // its writes coalesced per turn of the event loop: what concurrent jobs ask together leaves
  // in one write, and nothing waits for another batch's replies. On one connection Redis
  // runs a job's 'sent' record before the job's completion, which the processor relies on.
  coalesceWrites(connection);

  const providers = options.providers ?? createChainProviders(config, logger);
  const chain: ChainLink[] = providers.map(({ provider, secrets }) => ({
    provider,
    secrets,
    // The debug provider cannot fail; a breaker would only add Redis round trips.
    ...(provider.name === 'debug'
      ? {}
      : {
          breaker: createSharedBreaker({
            provider: provider.name,
            redis: connection,
            keyPrefix: config.redisKeyPrefix,
            failureThreshold: config.breaker.failureThreshold,
            cooldownMs: config.breaker.cooldownMs,
            logger,
          }),
        }),
  }));
  const breakers = chain.flatMap((link) => (link.breaker ? [link.breaker] : [])) as SharedBreaker[];
  // Aborted at the shutdown deadline, so a send in flight stops instead of racing the retry.
  const shutdown = new AbortController();

  // Tells an API in debug mode that this queue's SMS are real (see plugins/otp.ts in the API).
  const heartbeat = createHeartbeat({
    redis: connection,
    keys: heartbeatKeys(config.redisKeyPrefix, config.queueName, isCluster(connection)),
    // The chain's first provider: `debug` exactly in debug mode, else the real one.
    transport: chain[0]?.provider.name ?? 'debug',
    onError: (err) => logger.warn({ err }, 'could not write the worker heartbeat'),
  });
  heartbeat.start();

  const telemetry = createWorkerTelemetry({
    connection,
    queueName: queueNames,
    queuePrefix: config.queuePrefix,
    provider: chain[0]?.provider.name ?? 'none',
    breakers,
    port: config.metricsPort,
    host: config.metricsHost,
    logger,
  });

  // Outbound events: this process queues the changes it writes (sent, failed) and delivers
  // everyone's from the events queue.
  const eventsQueue = config.events
    ? new Queue(eventsQueueName(config.queueName, isCluster(connection)), {
        connection,
        prefix: config.queuePrefix,
      })
    : undefined;
  eventsQueue?.on('error', (err) => logger.error({ err, component: 'events' }, 'events queue error'));
  const enqueueErrors = config.events ? eventEnqueueErrorCounter(telemetry.metrics.registry) : undefined;
  const statusStore = createStatusStore({
    redis: connection,
    keyPrefix: config.redisKeyPrefix,
    ...(eventsQueue && config.events
      ? {
          onChange: createStatusEvents({
            queue: eventsQueue,
            jobOptions: config.events.jobOptions,
            onEnqueueError: (err, change) => {
              enqueueErrors?.inc({ status: change.status });
              logger.error(
                { err, component: 'events', verificationId: change.verificationId, status: change.status },
                'could not queue a status event; it is lost',
              );
            },
          }),
        }
      : {}),
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
    localeTemplates: config.smsTemplates.byLocale ?? {},
    ...(config.otpOrigin === undefined ? {} : { origin: config.otpOrigin }),
    chain,
    failoverAfter: config.failoverAfter,
    fallback: !config.debugMode && config.debugFallback ? createDebugProvider(logger, 'fallback') : undefined,
    signal: shutdown.signal,
    retryMaxDelayMs: config.retryMaxDelayMs,
    logger,
    onEvent: composeSendListeners(createStatusListener(statusStore), telemetry.metrics.onSendEvent),
  });

  // BullMQ runs one queue per Worker: one per shard, sharing the connection, the processor
  // and the process's concurrency and rate limit (split evenly, at least 1 each).
  const shards = queueNames.length;
  const workers = queueNames.map((queueName) =>
    createSendWorker({
      connection,
      queueName,
      queuePrefix: config.queuePrefix,
      concurrency: Math.max(1, Math.ceil(config.concurrency / shards)),
      rateLimitPerSecond:
        config.rateLimitPerSecond > 0 ? Math.max(1, Math.ceil(config.rateLimitPerSecond / shards)) : 0,
      retryMaxDelayMs: config.retryMaxDelayMs,
      stalled: config.stalled,
      processor,
      logger,
    }),
  );
  const worker = workers[0] as Worker;
  telemetry.serve(workers);

  const eventsWorker = config.events
    ? createEventsWorker({
        connection,
        queueName: config.queueName,
        queuePrefix: config.queuePrefix,
        concurrency: config.events.concurrency,
        deliver: createEventDelivery({
          url: config.events.url,
          secret: config.events.secret,
          timeoutMs: config.events.timeoutMs,
          status: statusStore,
        }),
        registry: telemetry.metrics.registry,
        logger,
      })
    : undefined;
  const closeWorkers = async (force?: boolean) => {
    await Promise.all([...workers.map((w) => w.close(force)), eventsWorker?.close(force)]);
  };

  let closing: Promise<'drained' | 'deadline'> | undefined;
  async function close(deadlineMs = config.shutdownTimeoutMs): Promise<'drained' | 'deadline'> {
    // worker.close() waits for running jobs with no limit of its own; the deadline is ours.
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'deadline'>((resolve) => {
      timer = setTimeout(() => resolve('deadline'), deadlineMs);
    });
    try {
      const outcome = await Promise.race([closeWorkers().then(() => 'drained' as const), deadline]);
      if (outcome === 'deadline') {
        logger.warn({ deadlineMs }, 'shutdown deadline passed; aborting sends in flight');
        shutdown.abort(new Error('worker shutdown deadline passed'));
        await closeWorkers(true);
      }
      await processor.settle();
      await eventsQueue?.close();
      await heartbeat.stop();
      await telemetry.close();
      // The providers' keep-alive connections last: no job is left to use them.
      await Promise.all([connection.quit(), ...providers.map((p) => p.close?.())]);
      return outcome;
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    worker,
    workers,
    ...(eventsWorker ? { eventsWorker } : {}),
    chain,
    telemetry,
    heartbeat,
    close(deadlineMs) {
      closing ??= close(deadlineMs);
      return closing;
    },
  };
}
