import { heartbeatKeys, liveWorkerTransports, sendQueueNames } from '@otp/core';
import { afterEach, describe, expect, it } from 'vitest';
import { type ClusterSystem, startClusterSystem, until } from './system.js';

/** KZ mobile numbers, distinct per index. */
const phone = (i: number) => `+7701${String(2_000_000 + i).slice(-7)}`;

let system: ClusterSystem | undefined;
afterEach(async () => {
  await system?.close();
  system = undefined;
});

describe('on a Redis Cluster (REDIS_CLUSTER_NODES)', () => {
  it('sends, delivers through a real worker, verifies, and records the status', async () => {
    system = await startClusterSystem();
    const s = system;
    const sent = await s.send(phone(1));
    expect(sent.status).toBe(200);
    await until('the SMS at the fake Messaggio', () => s.codeSentTo(phone(1)) !== undefined);
    const code = s.codeSentTo(phone(1)) as string;

    const wrong = await s.verify(phone(1), code === '000000' ? '111111' : '000000');
    expect(wrong.status).toBe(400);
    const right = await s.verify(phone(1), code);
    expect(right.status).toBe(200);
    expect(right.body.verified).toBe(true);
    expect(typeof right.body.verification_token).toBe('string');
    // Spent: the same code does not verify twice.
    expect((await s.verify(phone(1), code)).status).toBe(400);

    const status = await s.api.inject({ method: 'GET', url: `/verifications/${sent.body.verification_id}` });
    expect(status.statusCode).toBe(200);
    expect(status.json().status).toBe('verified');
    // The queue's keys carry its hash tag, so BullMQ's scripts run on one slot.
    expect(s.api.sendQueue.name).toBe(`{${s.env.QUEUE_NAME}}`);
    // The worker's heartbeat (a MULTI over the set and its own key) and the API's read of it.
    const keys = heartbeatKeys(s.prefix, s.env.QUEUE_NAME as string, true);
    await until('the heartbeat', async () => (await liveWorkerTransports(s.redis, keys)).length > 0);
    expect(await liveWorkerTransports(s.redis, keys)).toEqual(['messaggio']);
  });

  it('replays an Idempotency-Key: one code, one SMS', async () => {
    system = await startClusterSystem();
    const s = system;
    const first = await s.send(phone(2), { 'idempotency-key': 'cluster-idem-1' });
    const again = await s.send(phone(2), { 'idempotency-key': 'cluster-idem-1' });
    expect(first.status).toBe(200);
    expect(again.status).toBe(200);
    expect(again.body.verification_id).toBe(first.body.verification_id);
    await until('the SMS', () => s.codeSentTo(phone(2)) !== undefined);
    await s.fake.waitForRequests(1, { acceptedOnly: true });
    expect(s.fake.sent.filter((m) => m.phone.endsWith(phone(2).slice(1)))).toHaveLength(1);
  });

  it('QUEUE_SHARDS=3: each phone takes one shard, two workers consume every shard, metrics show all three', async () => {
    system = await startClusterSystem({ env: { QUEUE_SHARDS: '3' }, workers: 2 });
    const s = system;
    const names = sendQueueNames(s.env.QUEUE_NAME as string, 3, true);
    expect(s.api.sendQueues.map((q) => q.name)).toEqual(names);
    const perQueue = new Map<string, number>();
    for (const service of s.workers) {
      expect(service.workers.map((w) => w.name)).toEqual(names);
      for (const worker of service.workers) {
        worker.on('completed', () => perQueue.set(worker.name, (perQueue.get(worker.name) ?? 0) + 1));
      }
    }
    const phones = Array.from({ length: 30 }, (_, i) => phone(100 + i));
    const answers = await Promise.all(phones.map((p) => s.send(p)));
    expect(answers.map((a) => a.status)).toEqual(phones.map(() => 200));
    await until('30 SMS delivered', () => s.fake.sent.length >= 30);
    // Every phone got its SMS (a job whose lock lapsed on a loaded machine may be sent
    // twice; the faults tier counts duplicates, not this test).
    expect(new Set(s.fake.sent.map((m) => m.phone)).size).toBe(30);

    // Every shard carried some of the 30 phones.
    await until('30 completions', () => [...perQueue.values()].reduce((a, b) => a + b, 0) >= 30);
    for (const name of names) expect(perQueue.get(name) ?? 0).toBeGreaterThan(0);

    const metrics = await s.api.inject({ method: 'GET', url: '/metrics' });
    for (const name of names) expect(metrics.body).toContain(`otp_queue_reachable{queue="${name}"} 1`);
  });
});
