import { once } from 'node:events';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connectTestRedis,
  countSocketWrites,
  deleteKeys,
  testRedisUrl,
  uniquePrefix,
} from '../../../../test/redis.js';
import { coalesceWrites } from './coalesce-writes.js';

let admin: Redis;
let prefix: string;

beforeAll(() => {
  admin = connectTestRedis();
  prefix = uniquePrefix('coalesce');
});

afterAll(async () => {
  await deleteKeys(admin, prefix);
  await admin.quit();
});

async function readyClient(): Promise<Redis> {
  const redis = new Redis(testRedisUrl(), { maxRetriesPerRequest: 3 });
  if (redis.status !== 'ready') await once(redis, 'ready');
  return redis;
}

describe('coalesceWrites (real Redis)', () => {
  it('sends what one turn of the event loop issues in one write, each command with its own reply', async () => {
    const redis = await readyClient();
    coalesceWrites(redis);
    try {
      const writes = countSocketWrites(redis);
      const keys = Array.from({ length: 50 }, (_, i) => `${prefix}k${i}`);
      await Promise.all(keys.map((key, i) => redis.set(key, String(i))));
      expect(writes.count).toBe(1);
      const values = await Promise.all(keys.map((key) => redis.get(key)));
      expect(values).toEqual(keys.map((_, i) => String(i)));
      expect(writes.count).toBe(2);
      // A failing command fails alone (HGET on a string key).
      const [bad, good] = await Promise.allSettled([
        redis.hget(`${prefix}k1`, 'f'),
        redis.get(`${prefix}k2`),
      ]);
      expect(bad.status).toBe('rejected');
      expect(good).toEqual({ status: 'fulfilled', value: '2' });
    } finally {
      await redis.quit();
    }
  });

  it('a command issued while an earlier batch awaits its replies is written at once, not after them', async () => {
    const redis = await readyClient();
    coalesceWrites(redis);
    try {
      const writes = countSocketWrites(redis);
      // The first batch is still in flight (no reply can arrive within this turn) when the
      // second is issued in the next turn; ioredis' auto-pipelining would hold it back.
      const first = Promise.all([redis.set(`${prefix}a`, '1'), redis.set(`${prefix}b`, '2')]);
      await new Promise((resolve) => setImmediate(resolve));
      expect(writes.count).toBe(1);
      const second = redis.get(`${prefix}a`);
      await new Promise((resolve) => setImmediate(resolve));
      expect(writes.count).toBe(2);
      await first;
      expect(await second).toBe('1');
    } finally {
      await redis.quit();
    }
  });

  it('keeps coalescing on the new socket after a reconnect', async () => {
    const redis = await readyClient();
    coalesceWrites(redis);
    try {
      const oldSocket = redis.stream;
      await admin.client('KILL', 'SKIPME', 'yes', 'ID', String(await redis.client('ID')));
      await once(redis, 'ready');
      expect(redis.stream).not.toBe(oldSocket);
      const writes = countSocketWrites(redis);
      await Promise.all(Array.from({ length: 20 }, (_, i) => redis.set(`${prefix}r${i}`, 'x')));
      expect(writes.count).toBe(1);
    } finally {
      await redis.quit();
    }
  });
});
