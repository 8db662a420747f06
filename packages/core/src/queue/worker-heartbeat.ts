import { randomUUID } from 'node:crypto';
import { LuaScript } from '../code-store/lua-script.js';
import type { RedisClient } from '../redis/client.js';

/** A heartbeat outlives a stopped worker by at most this long. */
export const HEARTBEAT_TTL_SECONDS = 15;
/** Each worker beats this often, well within the TTL. */
export const HEARTBEAT_INTERVAL_MS = 5000;
/** The transport name a worker in debug mode reports; anything else sends real SMS. */
export const DEBUG_TRANSPORT = 'debug';

export interface HeartbeatKeys {
  /** The set of worker ids that ever beat on this queue. */
  index: string;
  /** One worker's heartbeat: its transport name, with a TTL. */
  worker(id: string): string;
}

/**
 * Heartbeats live beside the app's keys, named by queue: one deployment, one queue, one set.
 * On a cluster (`cluster: true`) the queue's name is their hash tag, so the set and the
 * heartbeats it lists share a slot (one MULTI writes both, one script reads them); on one
 * Redis the names stay as they always were.
 */
export function heartbeatKeys(keyPrefix: string, queueName: string, cluster = false): HeartbeatKeys {
  const queue = cluster ? `{${queueName}}` : queueName;
  return {
    index: `${keyPrefix}workers:${queue}`,
    worker: (id) => `${keyPrefix}worker:${queue}:${id}`,
  };
}

// Reads every live heartbeat and forgets the ids whose heartbeat expired (a worker that
// died without a graceful shutdown): one round trip.
const liveScript = new LuaScript(
  'worker-heartbeats',
  `
local ids = redis.call('SMEMBERS', KEYS[1])
local live = {}
for _, id in ipairs(ids) do
  local transport = redis.call('GET', ARGV[1] .. id)
  if transport then table.insert(live, transport) else redis.call('SREM', KEYS[1], id) end
end
return live
`,
  1,
);

/** The transport of every worker on the queue that beat within the TTL. */
export async function liveWorkerTransports(redis: RedisClient, keys: HeartbeatKeys): Promise<string[]> {
  return (await liveScript.run(redis, [keys.index], [keys.worker('')])) as string[];
}

export interface Heartbeat {
  readonly workerId: string;
  /** Writes a heartbeat now, then every HEARTBEAT_INTERVAL_MS. */
  start(): void;
  /** Stops beating and deletes the heartbeat (graceful shutdown). Idempotent. */
  stop(): Promise<void>;
}

/**
 * A worker's "I am alive and run transport X", so an API in debug mode can see that a
 * real provider is sending on its queue. A failed beat is reported and retried next time.
 */
export function createHeartbeat(options: {
  redis: RedisClient;
  keys: HeartbeatKeys;
  transport: string;
  onError?: (err: unknown) => void;
}): Heartbeat {
  const { redis, keys, transport } = options;
  const workerId = randomUUID();
  const key = keys.worker(workerId);
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let inFlight: Promise<void> = Promise.resolve();
  const write = async () => {
    try {
      await redis.multi().set(key, transport, 'EX', HEARTBEAT_TTL_SECONDS).sadd(keys.index, workerId).exec();
    } catch (err) {
      options.onError?.(err);
    }
  };
  const beat = () => {
    inFlight = write();
  };
  return {
    workerId,
    start() {
      if (timer || stopped) return;
      beat();
      timer = setInterval(beat, HEARTBEAT_INTERVAL_MS);
      timer.unref();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      // A beat still on its way would bring the heartbeat back after the delete.
      await inFlight;
      try {
        await redis.multi().del(key).srem(keys.index, workerId).exec();
      } catch (err) {
        options.onError?.(err);
      }
    },
  };
}
