import { HEARTBEAT_TTL_SECONDS, heartbeatKeys } from '@otp/core';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, type System, startSystem } from './system.js';

let system: System | undefined;
afterEach(async () => {
  await system?.close();
  system = undefined;
});

describe('worker heartbeat', () => {
  it.each([
    ['messaggio', true],
    ['debug', false],
  ])(
    'records its transport (%s) with a TTL of at most 15 s, and a graceful close deletes it',
    async (transport, messaggio) => {
      system = await startSystem({ messaggio });
      const { env, redis } = system;
      const keys = heartbeatKeys(env.REDIS_KEY_PREFIX ?? '', env.QUEUE_NAME ?? '');
      const id = system.worker?.heartbeat.workerId ?? '';
      const value = await eventually(
        'the heartbeat',
        async () => (await redis.get(keys.worker(id))) ?? undefined,
      );
      expect(value).toBe(transport);
      const ttl = await redis.ttl(keys.worker(id));
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(Math.min(15, HEARTBEAT_TTL_SECONDS));
      expect(await redis.smembers(keys.index)).toEqual([id]);

      await system.worker?.close(2000);
      expect(await redis.exists(keys.worker(id))).toBe(0);
      expect(await redis.smembers(keys.index)).toEqual([]);
    },
  );
});
