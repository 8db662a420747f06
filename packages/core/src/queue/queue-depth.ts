import type { Queue } from 'bullmq';

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
