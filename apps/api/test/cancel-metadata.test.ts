import { createHash } from 'node:crypto';
import { createCodeStore } from '@otp/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApi, freshPhone, type TestApi } from './helper.js';

// Issue 12, item 5: a send's metadata comes back with its verification; a live code can be
// revoked with POST /verifications/:id/cancel.
const sha = (value: string) => createHash('sha256').update(value).digest('hex');
const KEY_A = 'cancel-test-key-a-0123456789';
const KEY_B = 'cancel-test-key-b-0123456789';

let api: TestApi;
beforeAll(async () => {
  api = await buildTestApi({
    API_KEYS: `a:${sha(KEY_A)},b:${sha(KEY_B)}`,
    OTP_RESEND_COOLDOWN_SECONDS: '0',
  });
});
afterAll(async () => {
  await api.close();
});

const send = (payload: Record<string, unknown>, key = KEY_A) =>
  api.app.inject({ method: 'POST', url: '/send-otp/', headers: { 'x-api-key': key }, payload });
const cancel = (id: string, key = KEY_A) =>
  api.app.inject({ method: 'POST', url: `/verifications/${id}/cancel`, headers: { 'x-api-key': key } });
const read = (id: string, key = KEY_A) =>
  api.app.inject({ method: 'GET', url: `/verifications/${id}`, headers: { 'x-api-key': key } });
const verify = (phone: string, code: string) =>
  api.app.inject({
    method: 'POST',
    url: '/verify-otp/',
    headers: { 'x-api-key': KEY_A },
    payload: { phone_number: phone, code },
  });

async function sent(metadata?: Record<string, string>) {
  const phone = freshPhone();
  const res = await send({ phone_number: phone, ...(metadata === undefined ? {} : { metadata }) });
  expect(res.statusCode).toBe(200);
  const body = res.json() as { verification_id: string; debug_code: string };
  return { phone, id: body.verification_id, code: body.debug_code };
}

describe('metadata', () => {
  it('comes back from GET /verifications/:id as given, and never reaches the log or the SMS job', async () => {
    const metadata = { user_id: 'u_1842', 'flow.step': 'signup-2', note: 'марка-Ω' };
    const { id } = await sent(metadata);
    const res = await read(id);
    expect(res.statusCode).toBe(200);
    expect(res.json().metadata).toEqual(metadata);
    const job = await api.app.sendQueue.getJob(id);
    expect(JSON.stringify(job?.data)).not.toContain('u_1842');
    expect(api.logs.lines.join('\n')).not.toContain('u_1842');
  });

  it('is absent from a verification sent without it (old clients see no change)', async () => {
    const { id } = await sent();
    expect(Object.keys((await read(id)).json())).not.toContain('metadata');
  });

  it.each([
    ['not an object', 'just a string', /metadata must be an object/],
    ['a number value', { a: 1 }, /metadata\.a must be a string/],
    ['a nested object', { a: { b: 'c' } }, /metadata\.a must be a string/],
    ['a key with a space', { 'bad key': 'x' }, /metadata key "bad key" is not allowed/],
    ['an empty key', { '': 'x' }, /metadata key "" is not allowed/],
    ['a 41-character key', { ['k'.repeat(41)]: 'x' }, /is not allowed/],
    ['a 257-character value', { a: 'v'.repeat(257) }, /metadata\.a is too long/],
    [
      'eleven keys',
      Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`k${i}`, 'v'])),
      /metadata has too many keys \(at most 10\)/,
    ],
    [
      'more than 2048 bytes in all',
      Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`k${i}`, 'я'.repeat(120)])),
      /metadata is too large: \d+ bytes as JSON, at most 2048/,
    ],
  ])('refuses %s with 400 VALIDATION_ERROR naming the problem', async (_label, metadata, message) => {
    const res = await send({ phone_number: freshPhone(), metadata });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'VALIDATION_ERROR', message: expect.stringMatching(message) });
  });

  it('takes exactly the limits: 10 keys of 40 characters, 256-character values within 2048 bytes', async () => {
    const metadata = Object.fromEntries(
      Array.from({ length: 10 }, (_, i) => [`${i}`.padEnd(40, 'k'), i === 0 ? 'v'.repeat(256) : 'v']),
    );
    const { id } = await sent(metadata);
    expect((await read(id)).json().metadata).toEqual(metadata);
  });
});

describe('POST /verifications/:id/cancel', () => {
  it('revokes the live code: status canceled, verify answers OTP_EXPIRED, the metadata stays', async () => {
    const { phone, id, code } = await sent({ order: '77' });
    const res = await cancel(id);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      verification_id: id,
      status: 'canceled',
      metadata: { order: '77' },
      reached_at: { canceled: expect.any(String) },
    });
    const check = await verify(phone, code);
    expect(check.statusCode).toBe(400);
    expect(check.json()).toMatchObject({ code: 'OTP_EXPIRED' });
    expect((await read(id)).json().status).toBe('canceled');
  });

  it('answers a second cancel the same way', async () => {
    const { id } = await sent();
    const first = await cancel(id);
    const second = await cancel(id);
    expect(second.statusCode).toBe(200);
    expect(second.json()).toEqual(first.json());
  });

  it('records the cancel on a retry whose first status write was lost', async () => {
    const { phone, id } = await sent();
    // The code store's half of a cancel, as if the status write after it had failed.
    const store = createCodeStore({
      redis: api.redis,
      keyPrefix: api.config.redisKeyPrefix,
      ttlSeconds: 600,
      maxAttempts: 3,
      resendCooldownSeconds: 0,
    });
    expect(await store.cancel({ phone, verificationId: id })).toBe('canceled');
    expect((await read(id)).json().status).toBe('queued');
    const retry = await cancel(id);
    expect(retry.statusCode).toBe(200);
    expect(retry.json().status).toBe('canceled');
  });

  it('refuses a verified one with 409 VERIFICATION_NOT_CANCELABLE', async () => {
    const { phone, id, code } = await sent();
    expect((await verify(phone, code)).statusCode).toBe(200);
    const res = await cancel(id);
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({ code: 'VERIFICATION_NOT_CANCELABLE', status: 'verified' });
    expect((await read(id)).json().status).toBe('verified');
  });

  it('refuses an expired one with 409 VERIFICATION_NOT_CANCELABLE', async () => {
    const { id, phone } = await sent();
    // The code's own key runs out first; the record's expiry is what GET reads.
    await api.redis.del(`${api.config.redisKeyPrefix}code:{${phone}}`);
    const res = await cancel(id);
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({ code: 'VERIFICATION_NOT_CANCELABLE', status: 'queued' });
  });

  it('leaves a newer code for the same number alone', async () => {
    const first = await sent();
    // Another API key's send issues a new code (the same key's would resend the live one).
    const res2 = await send({ phone_number: first.phone }, KEY_B);
    const second = res2.json() as { verification_id: string; debug_code: string };
    const res = await cancel(first.id);
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({ code: 'VERIFICATION_NOT_CANCELABLE', message: /newer code/ });
    expect((await verify(first.phone, second.debug_code)).statusCode).toBe(200);
  });

  it('cancels a resent code too: a resend keeps the verification, and its metadata', async () => {
    const first = await sent({ flow: 'signup' });
    const again = (await send({ phone_number: first.phone, metadata: { flow: 'other' } })).json();
    expect(again).toMatchObject({ resent: true, verification_id: first.id });
    const record = await api.app.inject({
      method: 'GET',
      url: `/verifications/${first.id}`,
      headers: { 'x-api-key': KEY_A },
    });
    expect(record.json().metadata).toEqual({ flow: 'signup' });
    expect((await cancel(first.id)).statusCode).toBe(200);
    expect((await verify(first.phone, first.code)).json().code).toBe('OTP_EXPIRED');
  });

  it('answers another API key (and an unknown id) 404, touching nothing', async () => {
    const { phone, id, code } = await sent();
    const other = await cancel(id, KEY_B);
    expect(other.statusCode).toBe(404);
    expect(other.json()).toMatchObject({ code: 'VERIFICATION_NOT_FOUND' });
    expect((await cancel('no-such-verification')).statusCode).toBe(404);
    expect((await verify(phone, code)).statusCode).toBe(200);
  });

  it('needs an API key where API keys are configured', async () => {
    const { id } = await sent();
    const res = await api.app.inject({ method: 'POST', url: `/verifications/${id}/cancel` });
    expect(res.statusCode).toBe(401);
  });
});
