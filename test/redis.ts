import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import { type Cluster, Redis } from 'ioredis';
import { inject } from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

/** The Redis the global setup found (REDIS_URL, local, or a testcontainer). */
export function testRedisUrl(): string {
  return inject('redisUrl');
}

/** A key prefix (and queue name) no other test or deployment uses. */
export function uniquePrefix(label: string): string {
  return `test:${label}:${randomUUID().slice(0, 8)}:`;
}

export function connectTestRedis(): Redis {
  return new Redis(testRedisUrl(), { lazyConnect: false, maxRetriesPerRequest: 3 });
}

/**
 * Deletes the keys under `prefix` (and BullMQ's keys for a queue of that name). Only keys
 * this test created: never FLUSHDB on a Redis the test did not start.
 */
export async function deleteKeys(redis: Redis | Cluster, ...patterns: string[]): Promise<void> {
  // A cluster's keys are spread over its masters: each is scanned.
  if (redis.isCluster) {
    for (const node of (redis as Cluster).nodes('master')) await scanAndDelete(node, patterns, true);
    return;
  }
  await scanAndDelete(redis as Redis, patterns, false);
}

async function scanAndDelete(redis: Redis, patterns: readonly string[], oneByOne: boolean): Promise<void> {
  for (const pattern of patterns) {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${pattern}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length === 0) continue;
      // One by one on a cluster node: keys of one scan may sit in different slots.
      if (oneByOne) await Promise.all(keys.map((key) => redis.unlink(key)));
      else await redis.unlink(...keys);
    } while (cursor !== '0');
  }
}

/**
 * Counts the writes a client's socket makes from now on: one per chunk written alone and
 * one per writev of several (what coalesceWrites is about).
 */
export function countSocketWrites(redis: Redis): { readonly count: number } {
  const socket = redis.stream as Socket & {
    _write: (...args: unknown[]) => void;
    _writev: (...args: unknown[]) => void;
  };
  const counter = { count: 0 };
  const write = socket._write;
  const writev = socket._writev;
  socket._write = function (this: unknown, ...args: unknown[]) {
    counter.count++;
    return write.apply(this, args);
  };
  socket._writev = function (this: unknown, ...args: unknown[]) {
    counter.count++;
    return writev.apply(this, args);
  };
  return counter;
}
