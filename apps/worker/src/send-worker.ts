import {
  type Logger,
  type RedisClient,
  SEND_BACKOFF_TYPE,
  type SendJobData,
  type SendJobResult,
} from '@otp/core';
import { type MinimalJob, Worker } from 'bullmq';
import { retryDelayMs } from './backoff.js';
import type { createSendProcessor } from './processor.js';

export interface SendWorkerOptions {
  /** A connection with `maxRetriesPerRequest: null`, as BullMQ workers need. */
  connection: RedisClient;
  queueName: string;
  queuePrefix: string;
  concurrency: number;
  /** Sends per second across every worker on this queue; 0 = unlimited. */
  rateLimitPerSecond: number;
  retryMaxDelayMs: number;
  /**
   * Stall detection. BullMQ's defaults (30 s lock, 30 s checks) bring a killed worker's jobs
   * back after about a minute; a person waiting for a code should not wait that long. The
   * lock is renewed every half lockDuration by a timer while the job runs, so a slow
   * provider call (up to MESSAGGIO_TIMEOUT_MS) keeps its lock: only a dead process, or an
   * event loop blocked for a whole lockDuration, lets a job go.
   * @defaultValue BullMQ's own (30 s, 30 s, 1)
   */
  stalled?: { lockDurationMs: number; stalledIntervalMs: number; maxStalledCount: number };
  processor: ReturnType<typeof createSendProcessor>;
  logger: Logger;
  /** Start taking jobs at once. @defaultValue true */
  autorun?: boolean;
}

/** The BullMQ side: concurrency, rate limit, backoff and lifecycle logging. */
export function createSendWorker(options: SendWorkerOptions): Worker<SendJobData, SendJobResult> {
  const log = options.logger.child({ component: 'worker', queue: options.queueName });
  const worker = new Worker<SendJobData, SendJobResult>(
    options.queueName,
    (job, token) => options.processor(job, token),
    {
      connection: options.connection,
      prefix: options.queuePrefix,
      concurrency: options.concurrency,
      autorun: options.autorun ?? true,
      ...(options.stalled
        ? {
            lockDuration: options.stalled.lockDurationMs,
            stalledInterval: options.stalled.stalledIntervalMs,
            maxStalledCount: options.stalled.maxStalledCount,
          }
        : {}),
      ...(options.rateLimitPerSecond > 0
        ? { limiter: { max: options.rateLimitPerSecond, duration: 1000 } }
        : {}),
      settings: {
        backoffStrategy: (attemptsMade: number, type?: string, err?: Error, job?: MinimalJob) => {
          if (type !== SEND_BACKOFF_TYPE) return 0;
          const backoff = job?.opts.backoff;
          const baseDelayMs = typeof backoff === 'object' && backoff.delay ? backoff.delay : 1000;
          const retryAfterMs = (err as { retryAfterMs?: unknown } | undefined)?.retryAfterMs;
          return retryDelayMs({
            attemptsMade,
            baseDelayMs,
            maxDelayMs: options.retryMaxDelayMs,
            retryAfterMs: typeof retryAfterMs === 'number' ? retryAfterMs : undefined,
          });
        },
      },
    },
  );
  worker.on('error', (err) => log.error({ err }, 'worker error'));
  worker.on('stalled', (jobId) =>
    log.warn({ jobId, verificationId: jobId }, 'job stalled; another worker will pick it up'),
  );
  worker.on('ready', () => log.info({ concurrency: options.concurrency }, 'worker ready'));
  return worker;
}
