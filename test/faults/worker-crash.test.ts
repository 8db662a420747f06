import type { FakeRequestRecord } from '@otp/messaggio/testing';
import { describe, expect, it } from 'vitest';
import {
  baseEnv,
  messaggioEnv,
  phone,
  postJson,
  report,
  startApi,
  startWorker,
  until,
  useFaultsFixture,
} from './harness.js';

const fixture = useFaultsFixture();

const externalId = (r: FakeRequestRecord) =>
  (r.body as { options?: { external_id?: string } } | undefined)?.options?.external_id;
const accepted = (r: FakeRequestRecord) => typeof r.response === 'object' && r.response.status === 200;

async function sendCodes(base: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const res = await postJson(base, '/send-otp/', { phone_number: phone(i) });
    expect(res.status).toBe(200);
    ids.push((JSON.parse(res.body) as { verification_id: string }).verification_id);
  }
  return ids;
}

describe('a worker killed with jobs in flight', () => {
  it('has its jobs delivered by another worker within 15 s (defaults), duplicates at most the jobs in flight', async () => {
    const redis = await fixture.startRedis();
    const fake = await fixture.startFake();
    const env = baseEnv(redis.url);
    const queue = `bull:${env.QUEUE_NAME}`;
    const conn = fixture.connect(redis.url);
    // A's sends hang at the provider for 20 s (and A would wait for them), so all 20 are
    // in flight when it dies; the provider still accepts them afterwards, as a real one would.
    fake.setLatency(20_000);
    const a = await startWorker({ ...env, ...messaggioEnv(fake), MESSAGGIO_TIMEOUT_MS: '60000' });
    const api = await startApi({ ...env, MESSAGGIO_API_KEY: 'test-login' });
    const ids = await sendCodes(api.base, 20);
    await until(
      '20 jobs in flight in worker A',
      async () => (await conn.llen(`${queue}:active`)) === 20,
      60_000,
    );
    // B is up and idle (nothing waits) before A dies, so only recovery is measured.
    await startWorker({ ...env, ...messaggioEnv(fake) });

    a.proc.child.kill('SIGKILL');
    const killedAt = Date.now();
    const started = performance.now();
    fake.setLatency(100);
    const byB = () =>
      new Set(fake.requests.filter((r) => r.receivedAt.getTime() >= killedAt && accepted(r)).map(externalId));
    await until('B to deliver all 20', () => ids.every((id) => byB().has(id)), 60_000);
    const recoveryMs = performance.now() - started;

    // A's 20 requests land at the provider once its latency is over: the duplicates.
    await until("A's requests to reach the provider", () => (fake.requests.length ?? 0) >= 40, 60_000);
    const perId = new Map<string, number>();
    for (const r of fake.requests.filter(accepted))
      perId.set(externalId(r) ?? '', (perId.get(externalId(r) ?? '') ?? 0) + 1);
    const duplicates = [...perId.values()].filter((n) => n > 1).length;
    report(
      `kill -9 with 20 in flight: another worker delivered all in ${Math.round(recoveryMs)} ms; duplicates ${duplicates} of 20`,
    );

    expect(recoveryMs).toBeLessThan(15_000);
    expect(duplicates).toBeLessThanOrEqual(20);
    // B sent each exactly once.
    const fromB = fake.requests.filter((r) => r.receivedAt.getTime() >= killedAt && accepted(r));
    expect(fromB).toHaveLength(20);
  });
});

describe('a slow provider call', () => {
  it('up to MESSAGGIO_TIMEOUT_MS keeps its lock: no stall, no second send', async () => {
    const redis = await fixture.startRedis();
    const fake = await fixture.startFake();
    const env = baseEnv(redis.url);
    // 9 s at the provider is almost two default lock durations (5 s); the lock is renewed
    // while the call runs, so the second worker never takes the job over.
    fake.setLatency(9000);
    const workerEnv = { ...env, ...messaggioEnv(fake), MESSAGGIO_TIMEOUT_MS: '10000' };
    const workers = await Promise.all([startWorker(workerEnv), startWorker(workerEnv)]);
    const api = await startApi({ ...env, MESSAGGIO_API_KEY: 'test-login' });
    const ids = await sendCodes(api.base, 5);
    await until('5 deliveries', () => (fake.sent.length ?? 0) >= 5, 90_000);
    // A wrongly stalled job would be sent again about a lock duration later.
    const conn = fixture.connect(redis.url);
    const queue = `bull:${env.QUEUE_NAME}`;
    await until('the queue to empty', async () => (await conn.llen(`${queue}:active`)) === 0, 30_000);
    expect(fake.requests).toHaveLength(5);
    expect(new Set(fake.sent.map((m) => m.externalId))).toEqual(new Set(ids));
    for (const w of workers) expect(w.proc.output()).not.toMatch(/job stalled/);
  });
});
