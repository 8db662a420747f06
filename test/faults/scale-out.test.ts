import { Agent } from 'node:http';
import type { FakeMessaggio } from '@otp/messaggio/testing';
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

const CODES = 1500;

/** Verification ids a worker's log says it handed to the provider. */
function handedOver(output: string): string[] {
  return output
    .split('\n')
    .filter((l) => l.includes('"sms handed to provider"'))
    .map((l) => (JSON.parse(l) as { verificationId: string }).verificationId);
}

describe('three worker processes on one queue', () => {
  it('deliver 1,500 codes: each exactly once, none lost, every worker taking a share', async () => {
    const redis = await fixture.startRedis();
    const fake = await fixture.startFake();
    // A little provider latency, as in life, so no single worker can drain the queue alone.
    fake.setLatency(20);
    const env = baseEnv(redis.url);
    const workers = await Promise.all(
      [1, 2, 3].map(() => startWorker({ ...env, ...messaggioEnv(fake as FakeMessaggio) })),
    );
    const api = await startApi({ ...env, MESSAGGIO_API_KEY: 'test-login' });

    const agent = new Agent({ keepAlive: true, maxSockets: 20 });
    const ids: string[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        while (next < CODES) {
          const i = next++;
          const res = await postJson(api.base, '/send-otp/', { phone_number: phone(i) }, { agent });
          expect(res.status).toBe(200);
          ids.push((JSON.parse(res.body) as { verification_id: string }).verification_id);
        }
      }),
    );
    agent.destroy();
    expect(new Set(ids).size).toBe(CODES);

    await until(`${CODES} deliveries`, () => (fake.sent.length ?? 0) >= CODES, 180_000);
    // Every hand-over logged: a job sent twice would show as more hand-overs than codes.
    await until(
      'the workers to log every hand-over',
      () => workers.reduce((n, w) => n + handedOver(w.proc.output()).length, 0) >= CODES,
      60_000,
    );

    const sentIds = fake.sent.map((m) => m.externalId);
    expect(sentIds).toHaveLength(CODES);
    expect(new Set(sentIds)).toEqual(new Set(ids));
    const shares = workers.map((w) => handedOver(w.proc.output()).length);
    report(
      `3 workers, ${CODES} codes: shares ${shares.join(' / ')}; provider got ${sentIds.length} sends for ${new Set(sentIds).size} codes`,
    );
    expect(shares.reduce((a, b) => a + b, 0)).toBe(CODES);
    for (const share of shares) expect(share).toBeGreaterThan(0);
  });
});
