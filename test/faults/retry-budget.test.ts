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
  (r.body as { options?: { external_id?: string } } | undefined)?.options?.external_id ?? '';
const OUTAGE = { kind: 'status', status: 500 } as const;

/** A private Redis, the fake Messaggio down from the start, one worker and one API. */
async function system(
  apiEnv: Record<string, string>,
  codes: number,
  workerEnv: Record<string, string> = { SMS_BREAKER_FAILURES: '1000' },
) {
  const redis = await fixture.startRedis();
  const fake = await fixture.startFake();
  fake.setMode(OUTAGE);
  const conn = fixture.connect(redis.url);
  // Short delays so the test takes seconds, not minutes: 0.5 s base, 4 s at most.
  const env = { ...baseEnv(redis.url), SMS_RETRY_BASE_DELAY_MS: '500' };
  await startWorker({
    ...env,
    ...messaggioEnv(fake),
    SMS_RETRY_MAX_DELAY_MS: '4000',
    // Most tests here count retries: with one provider, its circuit breaker would hold the
    // jobs (spending no attempt) for the cool-down instead, so they raise its threshold.
    ...workerEnv,
  });
  const api = await startApi({ ...env, MESSAGGIO_API_KEY: 'test-login', ...apiEnv });
  const ids: string[] = [];
  const acceptedAt = Date.now();
  for (let i = 0; i < codes; i++) {
    const res = await postJson(api.base, '/send-otp/', { phone_number: phone(i) });
    expect(res.status).toBe(200);
    ids.push((JSON.parse(res.body) as { verification_id: string }).verification_id);
  }
  const queue = `bull:${env.QUEUE_NAME}`;
  const callsPer = () => {
    const calls = new Map<string, number>();
    for (const r of fake.requests) calls.set(externalId(r), (calls.get(externalId(r)) ?? 0) + 1);
    return calls;
  };
  const failed = async () => conn.zcard(`${queue}:failed`);
  return { ids, acceptedAt, callsPer, failed, fake };
}

describe('with SMS_MAX_ATTEMPTS unset, retries follow the code’s life', () => {
  it('a 20 s provider outage loses none of 50 codes', async () => {
    const s = await system({ OTP_TTL_SECONDS: '60' }, 50);
    // The outage: 20 s, and long enough that every code has failed more than the old
    // default's 5 attempts would have allowed (0.5 + 1 + 2 + 4 s of backoff).
    await until(
      '20 s of outage and 6 failed calls per code',
      () => {
        const calls = s.callsPer();
        return Date.now() - s.acceptedAt >= 20_000 && s.ids.every((id) => (calls.get(id) ?? 0) >= 6);
      },
      90_000,
    );
    s.fake.setMode('normal');
    await until('all 50 delivered', () => new Set(s.fake.sent.map((m) => m.externalId)).size === 50, 60_000);
    expect(await s.failed()).toBe(0);
    const calls = s.callsPer();
    report(
      `20 s outage, SMS_MAX_ATTEMPTS unset: 50/50 delivered; calls per code ${Math.min(...calls.values())}–${Math.max(...calls.values())}`,
    );
  });

  it('a 20 s provider outage with the default circuit breaker loses none either, with fewer calls', async () => {
    // Defaults: the breaker opens after 5 failures in a row and holds every job for 30 s
    // without spending an attempt; a probe after the outage closes it.
    const s = await system({ OTP_TTL_SECONDS: '120' }, 50, {});
    await until('20 s of outage', () => Date.now() - s.acceptedAt >= 20_000, 60_000);
    s.fake.setMode('normal');
    await until('all 50 delivered', () => new Set(s.fake.sent.map((m) => m.externalId)).size === 50, 120_000);
    expect(await s.failed()).toBe(0);
    const failedCalls = s.fake.requests.length - s.fake.sent.length;
    report(`20 s outage, default breaker: 50/50 delivered; ${failedCalls} failed calls in all`);
    // Without the breaker every code would be tried about 6 times in 20 s (300 calls).
    expect(failedCalls).toBeLessThan(100);
  });

  it('stops shortly before the code expires when the outage outlasts it', async () => {
    const ttlMs = 30_000;
    const s = await system({ OTP_TTL_SECONDS: String(ttlMs / 1000) }, 10);
    await until('all 10 to fail for good', async () => (await s.failed()) === 10, 90_000);
    const last = Math.max(...s.fake.requests.map((r) => r.receivedAt.getTime()));
    // Every call came while the code was alive, none in its last tenth (3 s) but the
    // retry already due then; and it retried well past the old default of 5 attempts.
    expect(last).toBeLessThan(s.acceptedAt + ttlMs);
    for (const id of s.ids) expect(s.callsPer().get(id)).toBeGreaterThan(5);
    report(
      `outage beyond a 30 s code: gave up ${Math.round((s.acceptedAt + ttlMs - last) / 1000)} s before expiry`,
    );
  });
});

describe('with SMS_MAX_ATTEMPTS set', () => {
  it('caps the provider calls exactly', async () => {
    const s = await system({ SMS_MAX_ATTEMPTS: '3' }, 10);
    await until('all 10 to fail for good', async () => (await s.failed()) === 10, 90_000);
    const calls = s.callsPer();
    expect(s.ids.map((id) => calls.get(id))).toEqual(s.ids.map(() => 3));
  });
});
