import type { Queue } from 'bullmq';
import { Gauge, type Registry } from 'prom-client';

/** The queue states metrics report: what is waiting, running, scheduled for retry, and kept as failed. */
export const QUEUE_DEPTH_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;
export type QueueDepthState = (typeof QUEUE_DEPTH_STATES)[number];

/**
 * Job counts by state, read at scrape time. Resolves undefined when Redis does not answer
 * within `timeoutMs`: a scrape must never hang on a worker connection that waits out an
 * outage (those retry forever), and its timer is cleared either way.
 */
export async function readQueueDepth(
  queue: Pick<Queue, 'getJobCounts'>,
  timeoutMs: number,
): Promise<Record<QueueDepthState, number> | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), timeoutMs);
  });
  try {
    const counts = await Promise.race([
      queue.getJobCounts(...QUEUE_DEPTH_STATES).catch(() => undefined),
      deadline,
    ]);
    if (!counts) return undefined;
    return Object.fromEntries(QUEUE_DEPTH_STATES.map((state) => [state, counts[state] ?? 0])) as Record<
      QueueDepthState,
      number
    >;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A reader that shares one read among callers that ask while it runs: metrics registries
 * collect their gauges concurrently, and two gauges fed by the same counts (depth and
 * reachability) must agree, from one round trip.
 */
export function queueDepthReader(
  queue: Pick<Queue, 'getJobCounts'>,
  timeoutMs: number,
): () => Promise<Record<QueueDepthState, number> | undefined> {
  let inFlight: Promise<Record<QueueDepthState, number> | undefined> | undefined;
  return () => {
    inFlight ??= readQueueDepth(queue, timeoutMs).finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };
}

/**
 * Registers the two queue gauges both processes expose, fed by one read per queue per
 * scrape: `otp_queue_reachable` (1 or 0) and `otp_queue_jobs` by state, labelled by queue
 * (every shard with QUEUE_SHARDS).
 */
export function registerQueueDepthMetrics(
  registry: Registry,
  queues: Pick<Queue, 'getJobCounts' | 'name'> | readonly Pick<Queue, 'getJobCounts' | 'name'>[],
  scrapeTimeoutMs: number,
): void {
  const readers = (Array.isArray(queues) ? queues : [queues]).map((queue) => ({
    name: queue.name,
    readDepth: queueDepthReader(queue, scrapeTimeoutMs),
  }));
  new Gauge({
    name: 'otp_queue_reachable',
    help: '1 when the send queue answered at this scrape, 0 when it did not.',
    labelNames: ['queue'] as const,
    registers: [registry],
    async collect() {
      const depths = await Promise.all(readers.map((reader) => reader.readDepth()));
      readers.forEach((reader, i) => {
        this.set({ queue: reader.name }, depths[i] ? 1 : 0);
      });
    },
  });
  new Gauge({
    name: 'otp_queue_jobs',
    help: 'Jobs in the send queue by state, read at scrape time (every API and worker reports the same queue).',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    async collect() {
      const depths = await Promise.all(readers.map((reader) => reader.readDepth()));
      this.reset();
      readers.forEach((reader, i) => {
        const depth = depths[i];
        if (depth)
          for (const state of QUEUE_DEPTH_STATES) this.set({ queue: reader.name, state }, depth[state]);
      });
    },
  });
}
