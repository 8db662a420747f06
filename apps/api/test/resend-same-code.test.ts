import { deriveKeyRing, deriveKeys, openSendJob, type SendJobData } from '@otp/core';
import type { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apisSharingState, buildTestApi, freshPhone, type TestApi } from './helper.js';

// Issue 12, item 1: a resend within the code's life sends the same code.
let api: TestApi;
beforeAll(async () => {
  api = await buildTestApi({ OTP_RESEND_COOLDOWN_SECONDS: '0', OTP_MAX_ATTEMPTS: '3' });
});
afterAll(async () => {
  await api.close();
});

const send = (payload: object, headers: Record<string, string> = {}) =>
  api.app.inject({ method: 'POST', url: '/send-otp/', payload, headers });
const verify = (payload: object) => api.app.inject({ method: 'POST', url: '/verify-otp/', payload });
const codeKey = (phone: string) => `${api.config.redisKeyPrefix}code:{${phone}}`;

describe('same code on resend (OTP_RESEND_SAME_CODE, on by default)', () => {
  it('resends the same code under the same verification, keeping attempts and expiry', async () => {
    const phone = freshPhone();
    const first = (await send({ phone_number: phone })).json();
    expect(first).toMatchObject({ resent: false, expires_in: 600 });
    expect(
      (await verify({ phone_number: phone, code: first.debug_code === '000000' ? '000001' : '000000' }))
        .statusCode,
    ).toBe(400);
    await api.redis.pexpire(codeKey(phone), 200_000);

    const second = await send({ phone_number: phone });
    expect(second.statusCode).toBe(200);
    expect(second.json()).toMatchObject({
      resent: true,
      verification_id: first.verification_id,
      debug_code: first.debug_code,
    });
    expect(second.json().expires_in).toBeLessThanOrEqual(200);
    expect(await api.redis.pttl(codeKey(phone))).toBeLessThanOrEqual(200_000);
    expect(await api.redis.hget(codeKey(phone), 'a')).toBe('1');

    // The resend's job is its own (a job id of its own), carrying the same sealed-job format.
    const jobs = (await api.app.sendQueue.getJobs(['waiting'])).filter(
      (job) => job.data.verificationId === first.verification_id,
    );
    expect(jobs).toHaveLength(2);
    const resendJob = jobs.find((job) => job.id !== first.verification_id);
    expect(resendJob?.data.v).toBe(2);
    const ring = deriveKeyRing(api.config.otpSecret);
    expect(openSendJob(ring, resendJob?.data as SendJobData)).toEqual({ phone, code: first.debug_code });

    // One attempt was used before the resend: two are left, and the code verifies.
    const wrong = await verify({
      phone_number: phone,
      code: first.debug_code === '000000' ? '000001' : '000000',
    });
    expect(wrong.json()).toMatchObject({ code: 'OTP_INVALID', attempts_left: 1 });
    expect((await verify({ phone_number: phone, code: first.debug_code })).statusCode).toBe(200);
    // Spent: the next send is a new verification.
    const third = (await send({ phone_number: phone })).json();
    expect(third).toMatchObject({ resent: false });
    expect(third.verification_id).not.toBe(first.verification_id);
  });

  it('keeps the verification record as the first send made it', async () => {
    const phone = freshPhone();
    const first = (await send({ phone_number: phone })).json();
    const before = (
      await api.app.inject({ method: 'GET', url: `/verifications/${first.verification_id}` })
    ).json();
    await send({ phone_number: phone });
    const after = (
      await api.app.inject({ method: 'GET', url: `/verifications/${first.verification_id}` })
    ).json();
    expect(after).toEqual(before);
  });

  it('issues a new code for another purpose, which the first code does not verify', async () => {
    const phone = freshPhone();
    const login = (await send({ phone_number: phone, purpose: 'login' })).json();
    const reset = (await send({ phone_number: phone, purpose: 'reset' })).json();
    expect(reset.resent).toBe(false);
    expect(reset.verification_id).not.toBe(login.verification_id);
    const again = (await send({ phone_number: phone, purpose: 'reset' })).json();
    expect(again).toMatchObject({ resent: true, debug_code: reset.debug_code });
    expect((await verify({ phone_number: phone, code: reset.debug_code, purpose: 'reset' })).statusCode).toBe(
      200,
    );
  });

  it('issues a new code when the stored sealed code was tampered with', async () => {
    const phone = freshPhone();
    const first = (await send({ phone_number: phone })).json();
    const sealed = (await api.redis.hget(codeKey(phone), 'c')) as string;
    await api.redis.hset(codeKey(phone), 'c', `${sealed.slice(0, -4)}AAAA`);
    const second = await send({ phone_number: phone });
    expect(second.statusCode).toBe(200);
    expect(second.json().resent).toBe(false);
    expect(second.json().verification_id).not.toBe(first.verification_id);
    expect((await verify({ phone_number: phone, code: second.json().debug_code })).statusCode).toBe(200);
  });
});

describe('OTP_RESEND_SAME_CODE=false', () => {
  it('replaces the code on every send, as before, and stores nothing sealed', async () => {
    const off = await buildTestApi({ OTP_RESEND_COOLDOWN_SECONDS: '0', OTP_RESEND_SAME_CODE: 'false' });
    try {
      const phone = freshPhone();
      const sendOff = () =>
        off.app.inject({ method: 'POST', url: '/send-otp/', payload: { phone_number: phone } });
      const first = (await sendOff()).json();
      const second = (await sendOff()).json();
      expect(second.resent).toBe(false);
      expect(second.verification_id).not.toBe(first.verification_id);
      expect(await off.redis.hget(`${off.config.redisKeyPrefix}code:{${phone}}`, 'c')).toBeNull();
    } finally {
      await off.close();
    }
  });
});

describe('a resend across a secret rotation', () => {
  const OLD = 'resend-rotation-old-0123456789abcdef0123456789';
  const NEW = 'resend-rotation-new-0123456789abcdef0123456789';
  const apis = apisSharingState('resend-rot');
  const build = (secrets: { OTP_SECRET: string; OTP_SECRET_PREVIOUS?: string }) =>
    apis.build({ OTP_RESEND_COOLDOWN_SECONDS: '0', ...secrets });
  afterAll(() => apis.close());
  const sendOn = async (app: Awaited<ReturnType<typeof build>>, phone: string) =>
    (await app.inject({ method: 'POST', url: '/send-otp/', payload: { phone_number: phone } })).json();

  it('sends the old code while OTP_SECRET_PREVIOUS opens it, and a new one once no key does', async () => {
    const before = await build({ OTP_SECRET: OLD });
    const rotating = await build({ OTP_SECRET: NEW, OTP_SECRET_PREVIOUS: OLD });
    const after = await build({ OTP_SECRET: NEW });
    const phone = freshPhone();
    const first = await sendOn(before, phone);
    const resent = await sendOn(rotating, phone);
    expect(resent).toMatchObject({ resent: true, debug_code: first.debug_code });
    // The resend's job is sealed with the new key, which every upgraded worker opens.
    const job = (await rotating.sendQueue.getJobs(['waiting'])).find(
      (j) => j.id !== first.verification_id && j.data.verificationId === first.verification_id,
    );
    expect(job?.data.sealed.startsWith(`${deriveKeys(NEW).keyId}:`)).toBe(true);
    const fresh = await sendOn(after, phone);
    expect(fresh.resent).toBe(false);
    expect(fresh.verification_id).not.toBe(first.verification_id);
  });
});

describe('an enqueue failure on a resend', () => {
  it('takes back the resend only: the code the user already holds still verifies', async () => {
    const phone = freshPhone();
    const first = (await send({ phone_number: phone, purpose: 'signup' })).json();
    const queue = api.app.sendQueue as Queue;
    const add = queue.add.bind(queue);
    queue.add = async () => {
      throw new Error('enqueue failed');
    };
    try {
      const failed = await send({ phone_number: phone, purpose: 'signup' });
      expect(failed.statusCode).toBeGreaterThanOrEqual(500);
    } finally {
      queue.add = add;
    }
    expect(await api.redis.hget(codeKey(phone), 'id')).toBe(first.verification_id);
    const ok = await verify({ phone_number: phone, code: first.debug_code, purpose: 'signup' });
    expect(ok.statusCode).toBe(200);
  });
});
