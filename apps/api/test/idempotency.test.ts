import { maskPhone } from '@otp/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApi, freshPhone, type TestApi } from './helper.js';

let api: TestApi;
beforeAll(async () => {
  api = await buildTestApi({ OTP_RESEND_COOLDOWN_SECONDS: '0', MESSAGGIO_API_KEY: 'login' });
});
afterAll(async () => {
  await api.close();
});

const send = (key: string | undefined, payload: object) =>
  api.app.inject({
    method: 'POST',
    url: '/send-otp/',
    headers: key === undefined ? {} : { 'idempotency-key': key },
    payload,
  });

describe('Idempotency-Key on /send-otp', () => {
  it('replays the first answer and queues no second SMS', async () => {
    const phone = freshPhone();
    const key = `k-${phone}`;
    const first = await send(key, { phone_number: phone });
    expect(first.statusCode).toBe(200);
    const again = await send(key, { phone_number: phone });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual(first.json());
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    const jobs = await api.app.sendQueue.getJobs(['waiting', 'delayed', 'active', 'completed', 'failed']);
    expect(jobs.filter((job) => job.data.phoneMasked === maskPhone(phone))).toHaveLength(1);
  });

  it('refuses the same key with a different body: 422 IDEMPOTENCY_KEY_REUSED', async () => {
    const key = `k-reuse-${freshPhone()}`;
    expect((await send(key, { phone_number: freshPhone() })).statusCode).toBe(200);
    const other = await send(key, { phone_number: freshPhone() });
    expect(other.statusCode).toBe(422);
    expect(other.json()).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
  });

  it('treats the same phone typed differently as a different body', async () => {
    // The body is compared as sent, like Stripe does: a client retrying sends the same bytes.
    const phone = freshPhone();
    const key = `k-typed-${phone}`;
    expect((await send(key, { phone_number: phone })).statusCode).toBe(200);
    expect((await send(key, { phone_number: `8${phone.slice(2)}` })).statusCode).toBe(422);
  });

  it('keeps nothing from a failed request: the same key may be retried', async () => {
    const key = `k-fail-${freshPhone()}`;
    const bad = await send(key, { phone_number: '+7 495 123-45-67' });
    expect(bad.statusCode).toBe(400);
    const phone = freshPhone();
    // Same key, now a good request with another body: processed, not "reused".
    expect((await send(key, { phone_number: phone })).statusCode).toBe(200);
  });

  it('answers 409 while the first request with the key is still in flight', async () => {
    const phone = freshPhone();
    const key = `k-race-${phone}`;
    const [a, b] = await Promise.all([
      send(key, { phone_number: phone }),
      send(key, { phone_number: phone }),
    ]);
    const statuses = [a.statusCode, b.statusCode].sort();
    // Either the second saw the first finished (replay) or still pending (409); never two sends.
    expect([
      [200, 200],
      [200, 409],
    ]).toContainEqual(statuses);
    const jobs = await api.app.sendQueue.getJobs(['waiting', 'delayed', 'active', 'completed', 'failed']);
    expect(jobs.filter((job) => job.data.phoneMasked === maskPhone(phone))).toHaveLength(1);
  });

  it('scopes keys by API key holder and expires them with the TTL', async () => {
    const phone = freshPhone();
    const key = `k-ttl-${phone}`;
    await send(key, { phone_number: phone });
    const stored = await api.redis.keys(`${api.config.redisKeyPrefix}idem:public:*`);
    expect(stored.length).toBeGreaterThan(0);
    const ttl = await api.redis.ttl(stored[0] ?? '');
    expect(ttl).toBeGreaterThan(86_000);
    expect(ttl).toBeLessThanOrEqual(86_400);
  });

  it('refuses a malformed key', async () => {
    const res = await send('has space', { phone_number: freshPhone() });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'VALIDATION_ERROR' });
  });
});
