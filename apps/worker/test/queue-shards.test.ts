import { sendQueueNames } from '@otp/core';
import { afterEach, describe, expect, it } from 'vitest';
import { connectTestRedis, deleteKeys } from '../../../test/redis.js';
import { eventually, type System, startSystem } from './system.js';

const ADMIN = { authorization: `Basic ${Buffer.from('ops:admin-password-0123456789').toString('base64')}` };
const phone = (i: number) => `+7701${String(5_000_000 + i).slice(-7)}`;

let system: System | undefined;
let names: string[] = [];
afterEach(async () => {
  await system?.close();
  system = undefined;
  // The system deletes its prefix and QUEUE_NAME's keys; the shards' are these.
  const redis = connectTestRedis();
  await deleteKeys(redis, ...names.map((name) => `bull:${name}:`));
  await redis.quit();
});

describe('QUEUE_SHARDS on one Redis', () => {
  it('spreads sends over N queues by phone; the worker consumes all; Bull Board and /metrics show every shard', async () => {
    system = await startSystem({
      messaggio: true,
      env: {
        QUEUE_SHARDS: '3',
        OTP_SENDS_PER_IP_PER_HOUR: '0',
        ADMIN_USER: 'ops',
        ADMIN_PASSWORD: 'admin-password-0123456789',
      },
    });
    const s = system;
    names = sendQueueNames(s.env.QUEUE_NAME as string, 3, false);
    expect(s.api.sendQueues.map((queue) => queue.name)).toEqual(names);
    expect(s.worker?.workers.map((worker) => worker.name)).toEqual(names);

    const perQueue = new Map<string, number>();
    for (const worker of s.worker?.workers ?? []) {
      worker.on('completed', () => perQueue.set(worker.name, (perQueue.get(worker.name) ?? 0) + 1));
    }
    const phones = Array.from({ length: 24 }, (_, i) => phone(i));
    for (const p of phones) {
      const res = await s.api.inject({ method: 'POST', url: '/send-otp/', payload: { phone_number: p } });
      expect(res.statusCode).toBe(200);
    }
    await eventually('24 SMS', async () => (s.fake.sent.length >= 24 ? true : undefined), 20_000);
    await eventually('24 completions', async () =>
      [...perQueue.values()].reduce((a, b) => a + b, 0) >= 24 ? true : undefined,
    );
    expect(new Set(s.fake.sent.map((message) => message.phone)).size).toBe(24);
    for (const name of names) expect(perQueue.get(name) ?? 0).toBeGreaterThan(0);

    const board = await s.api.inject({ url: '/admin/queues/api/queues', headers: ADMIN });
    expect(board.statusCode).toBe(200);
    expect((board.json() as { queues: { name: string }[] }).queues.map((q) => q.name).sort()).toEqual(
      [...names].sort(),
    );
    const metrics = await s.api.inject({ url: '/metrics', headers: ADMIN });
    for (const name of names) expect(metrics.body).toContain(`otp_queue_reachable{queue="${name}"} 1`);
  });
});
