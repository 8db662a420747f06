import { Cluster, Redis, type RedisOptions } from 'ioredis';

/** One Redis or a Redis Cluster: everything that talks to Redis takes either. */
export type RedisClient = Redis | Cluster;

/** A cluster seed node (any master or replica; the client discovers the rest). */
export interface ClusterSeed {
  host: string;
  port: number;
}

/**
 * Where Redis is: one server (`REDIS_URL`) or a cluster (`REDIS_CLUSTER_NODES`). Credentials
 * and TLS of a cluster come from its first `redis://` or `rediss://` entry, if any.
 */
export type RedisTarget =
  | { url: string; cluster?: undefined }
  | { cluster: { nodes: readonly ClusterSeed[]; username?: string; password?: string; tls: boolean } };

/** Options every client gets, whichever the target; ioredis' names. */
export type RedisClientOptions = Pick<
  RedisOptions,
  | 'enableOfflineQueue'
  | 'maxRetriesPerRequest'
  | 'commandTimeout'
  | 'connectTimeout'
  | 'retryStrategy'
  | 'lazyConnect'
  | 'enableReadyCheck'
  | 'enableAutoPipelining'
>;

/**
 * Parses `REDIS_CLUSTER_NODES`: comma-separated `host:port` or `redis[s]://[user:pass@]host:port`.
 * Throws an Error whose message says what is wrong (the config module names the variable).
 */
export function parseClusterNodes(value: string): NonNullable<RedisTarget['cluster']> {
  const entries = value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  if (entries.length === 0) throw new Error('must list at least one host:port');
  const nodes: ClusterSeed[] = [];
  let username: string | undefined;
  let password: string | undefined;
  let tls = false;
  for (const entry of entries) {
    let host: string;
    let port: string;
    if (/^rediss?:\/\//.test(entry)) {
      let url: URL;
      try {
        url = new URL(entry);
      } catch {
        throw new Error(`"${entry.replace(/\/\/[^@/]*@/, '//***@')}" is not a URL`);
      }
      host = url.hostname.replace(/^\[|\]$/g, '');
      port = url.port || '6379';
      if (nodes.length === 0) {
        tls = url.protocol === 'rediss:';
        if (url.username) username = decodeURIComponent(url.username);
        if (url.password) password = decodeURIComponent(url.password);
      }
    } else {
      const match = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(entry);
      if (!match) throw new Error(`"${entry}" is not host:port`);
      host = (match[1] as string).replace(/^\[|\]$/g, '');
      port = match[2] as string;
    }
    const portNumber = Number(port);
    if (!Number.isInteger(portNumber) || portNumber < 1 || portNumber > 65_535) {
      throw new Error(`"${entry}" has no valid port`);
    }
    nodes.push({ host, port: portNumber });
  }
  return { nodes, ...(username ? { username } : {}), ...(password ? { password } : {}), tls };
}

/**
 * The one place a Redis client is made: a `Redis` for `REDIS_URL`, an ioredis `Cluster` for
 * `REDIS_CLUSTER_NODES`, with the same behaviour either way (offline queue, retries,
 * timeouts, reconnects).
 */
export function createRedisClient(target: RedisTarget, options: RedisClientOptions = {}): RedisClient {
  if (!target.cluster) return new Redis(target.url, options);
  const { retryStrategy, enableOfflineQueue, lazyConnect, enableAutoPipelining, ...perNode } = options;
  const { nodes, username, password, tls } = target.cluster;
  return new Cluster(
    nodes.map((node) => ({ host: node.host, port: node.port })),
    {
      ...(enableOfflineQueue === undefined ? {} : { enableOfflineQueue }),
      ...(lazyConnect === undefined ? {} : { lazyConnect }),
      // A cluster pipelines per node itself: the option belongs to the Cluster, not its nodes.
      ...(enableAutoPipelining === undefined ? {} : { enableAutoPipelining }),
      ...(retryStrategy ? { clusterRetryStrategy: (times: number) => retryStrategy(times) } : {}),
      // A failover or a restarted master: ask again soon, the client follows MOVED replies.
      retryDelayOnFailover: 100,
      retryDelayOnClusterDown: 100,
      redisOptions: {
        ...perNode,
        ...(username ? { username } : {}),
        ...(password ? { password } : {}),
        ...(tls ? { tls: {} } : {}),
      },
    },
  );
}

/** True for an ioredis `Cluster`. */
export function isCluster(redis: RedisClient): redis is Cluster {
  return redis.isCluster;
}

/**
 * The part of a key Redis Cluster hashes: the text inside the first `{…}` when it is not
 * empty, else the whole key. Keys with the same hash tag live in one slot.
 */
export function hashTagOf(key: string): string {
  const open = key.indexOf('{');
  if (open !== -1) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) return key.slice(open + 1, close);
  }
  return key;
}
