import { coalesceWrites, createRedisClient, type RedisClient, type RedisTarget } from '@otp/core';
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyInstance {
    /** One Redis, or an ioredis Cluster with REDIS_CLUSTER_NODES. */
    redis: RedisClient;
  }
}

export interface RedisPluginOptions {
  url: string;
  /** A Redis Cluster's seed nodes instead of `url` (REDIS_CLUSTER_NODES). */
  cluster?: RedisTarget['cluster'];
  /** A command that gets no answer in this time fails (and the request answers 503). */
  commandTimeoutMs: number;
  /** How long start-up waits for the first connection before serving 503s. @defaultValue 5000 */
  connectTimeoutMs?: number;
}

/**
 * One Redis connection (or one cluster client) for the code store and the queue producer. The offline queue is
 * off so a Redis outage fails each command at once (503) instead of parking requests in
 * memory until they time out; ioredis keeps reconnecting in the background.
 */
export default fp<RedisPluginOptions>(
  async (fastify, opts) => {
    const log = fastify.log.child({ component: 'redis' });
    const redis = createRedisClient(opts.cluster ? { cluster: opts.cluster } : { url: opts.url }, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: opts.commandTimeoutMs,
      connectTimeout: opts.connectTimeoutMs ?? 5000,
      // Back off to at most 2 s between reconnects, forever: the API outlives outages.
      retryStrategy: (times) => Math.min(times * 100, 2000),
      lazyConnect: true,
      // No auto-pipelining: ioredis keeps one auto-pipeline in flight per connection, so a
      // command stuck on a dying connection holds every other request's commands behind it
      // (503s during a Redis restart went from a p99 of ~5 ms to 30-190 ms in the API).
      // Independent commands are issued together instead (Promise.all), one round trip,
      // and what a turn of the event loop writes leaves in one write (coalesceWrites).
    });
    coalesceWrites(redis);
    let lastError = '';
    redis.on('error', (err) => {
      // ioredis repeats the same error on every reconnect attempt; log each kind once.
      if (err.message !== lastError) log.error({ err }, 'redis connection error');
      lastError = err.message;
    });
    redis.on('ready', () => {
      if (lastError) log.info('redis connection restored');
      lastError = '';
    });
    let timer: NodeJS.Timeout | undefined;
    const connecting = redis.connect();
    // Settled later than the race below when the timer wins: nobody else listens then.
    connecting.catch(() => {});
    try {
      // A cluster client keeps retrying its seed nodes inside connect(); start-up waits
      // for it no longer than for one Redis.
      await Promise.race([
        connecting,
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error('no connection within the connect timeout')),
            (opts.connectTimeoutMs ?? 5000) + 1000,
          );
        }),
      ]);
    } catch (err) {
      log.error({ err }, 'redis is not reachable at start-up; requests will answer 503 until it is');
    } finally {
      clearTimeout(timer);
    }
    fastify.decorate<RedisClient>('redis', redis);
    fastify.addHook('onClose', async () => {
      if (redis.status === 'ready') await redis.quit();
      else redis.disconnect();
    });
  },
  { name: 'redis' },
);
