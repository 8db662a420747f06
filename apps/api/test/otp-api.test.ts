import { maskPhone, RETRY_UNTIL_EXPIRY_ATTEMPTS, SEND_JOB_NAME } from '@otp/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApi, freshPhone, type TestApi } from './helper.js';

let api: TestApi;

beforeAll(async () => {
  api = await buildTestApi({ OTP_MAX_ATTEMPTS: '3', OTP_RESEND_COOLDOWN_SECONDS: '0' });
});
afterAll(async () => {
  await api.close();
});

const send = (payload: unknown) =>
  api.app.inject({ method: 'POST', url: '/send-otp/', payload: payload as object });
const verify = (payload: unknown) =>
  api.app.inject({ method: 'POST', url: '/verify-otp/', payload: payload as object });

describe('POST /send-otp/', () => {
  it('normalizes the phone, stores the code and queues an encrypted send job', async () => {
    const phone = freshPhone();
    const typed = `8 (${phone.slice(2, 5)}) ${phone.slice(5, 8)}-${phone.slice(8, 10)}-${phone.slice(10)}`;
    const res = await send({ phone_number: typed });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toEqual({
      message: 'SMS код отправлен успешно',
      phone_number: phone,
      verification_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      expires_in: 600,
      resend_after: 0,
      resent: false,
      debug_code: expect.stringMatching(/^\d{6}$/),
    });
    expect(res.headers['x-request-id']).toBeTruthy();

    const job = await api.app.sendQueue.getJob(body.verification_id);
    expect(job?.name).toBe(SEND_JOB_NAME);
    expect(job?.data).toMatchObject({
      v: 2,
      phoneMasked: maskPhone(phone),
      country: 'KZ',
      verificationId: body.verification_id,
    });
    expect(JSON.stringify(job?.data)).not.toContain(phone);
    // SMS_MAX_ATTEMPTS unset: no count; the worker stops shortly before the code expires.
    expect(job?.opts.attempts).toBe(RETRY_UNTIL_EXPIRY_ATTEMPTS);
    // Neither the job nor the code's Redis record holds the code in clear.
    const raw = JSON.stringify(
      await api.redis.hgetall(`${api.config.queuePrefix}:${api.config.queueName}:${job?.id}`),
    );
    expect(raw).not.toContain(body.debug_code);
    const stored = JSON.stringify(await api.redis.hgetall(`${api.config.redisKeyPrefix}code:{${phone}}`));
    expect(stored).toContain(body.verification_id);
    expect(stored).not.toContain(body.debug_code);
    // Nor does any log line.
    expect(api.logs.text).not.toContain(`"${body.debug_code}"`);
    expect(api.logs.text).toContain(phone.slice(0, 5));
    expect(api.logs.text).not.toContain(phone);
  });

  it('answers without the trailing slash too', async () => {
    const res = await api.app.inject({
      method: 'POST',
      url: '/send-otp',
      payload: { phone_number: freshPhone() },
    });
    expect(res.statusCode).toBe(200);
  });

  it('accepts the phone as a JSON number, as the old serializer did', async () => {
    const phone = freshPhone();
    const res = await send({ phone_number: Number(phone.slice(1)) });
    expect(res.statusCode).toBe(200);
    expect(res.json().phone_number).toBe(phone);
  });

  it.each([
    [{ phone_number: '+7 495 123-45-67' }, 400, 'PHONE_INVALID', /not a mobile/],
    [{ phone_number: '12345' }, 400, 'PHONE_INVALID', /too short/],
    [{ phone_number: '+7 708 ABC 34 14' }, 400, 'PHONE_INVALID', /only digits/],
    [{ phone_number: '+1 212 555 0123' }, 403, 'COUNTRY_NOT_ALLOWED', /US/],
    [{}, 400, 'VALIDATION_ERROR', /phone_number is required/],
    [{ phone_number: null }, 400, 'VALIDATION_ERROR', /phone_number/],
    [{ phone_number: true }, 400, 'VALIDATION_ERROR', /phone_number/],
    [{ phone_number: ['+77088043414'] }, 400, 'VALIDATION_ERROR', /phone_number/],
    [{ phone_number: '+77088043414', extra: 1 }, 400, 'VALIDATION_ERROR', /unknown field extra/],
    [{ phone_number: 'x'.repeat(100) }, 400, 'VALIDATION_ERROR', /too long/],
    [[1, 2], 400, 'VALIDATION_ERROR', /JSON object/],
  ])('%j → %i %s', async (payload, status, code, message) => {
    const res = await send(payload);
    expect(res.statusCode).toBe(status);
    const body = res.json();
    expect(body).toMatchObject({ statusCode: status, code, error: expect.any(String) });
    expect(body.message).toMatch(message);
  });

  it.each([
    ['malformed JSON', 'application/json', '{"phone_number": ', 400, 'VALIDATION_ERROR'],
    ['an empty JSON body', 'application/json', '', 400, 'VALIDATION_ERROR'],
    ['form data', 'application/x-www-form-urlencoded', 'phone_number=1', 415, 'UNSUPPORTED_MEDIA_TYPE'],
    [
      'a body over the limit',
      'application/json',
      JSON.stringify({ phone_number: 'x'.repeat(5000) }),
      413,
      'PAYLOAD_TOO_LARGE',
    ],
  ])('refuses %s with a JSON error', async (_label, contentType, payload, status, code) => {
    const res = await api.app.inject({
      method: 'POST',
      url: '/send-otp/',
      headers: { 'content-type': contentType },
      payload,
    });
    expect(res.statusCode).toBe(status);
    expect(res.json()).toMatchObject({ statusCode: status, code });
  });

  it('answers unknown routes with a JSON 404', async () => {
    const res = await api.app.inject({ method: 'GET', url: '/nope' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('POST /verify-otp/', () => {
  async function issue(phone = freshPhone()): Promise<{ phone: string; code: string }> {
    const res = await send({ phone_number: phone });
    expect(res.statusCode).toBe(200);
    return { phone, code: res.json().debug_code };
  }

  it('verifies the right code once; the code is then spent', async () => {
    const { phone, code } = await issue();
    const ok = await verify({ phone_number: phone, code });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({
      message: 'Код подтвержден',
      phone_number: phone,
      verified: true,
      verification_token: expect.any(String),
    });
    const again = await verify({ phone_number: phone, code });
    expect(again.statusCode).toBe(400);
    expect(again.json()).toMatchObject({ code: 'OTP_EXPIRED' });
  });

  it('finds the code whatever way the phone is typed, without the trailing slash too', async () => {
    const { phone, code } = await issue();
    const res = await api.app.inject({
      method: 'POST',
      url: '/verify-otp',
      payload: { phone_number: `8${phone.slice(2)}`, code },
    });
    expect(res.statusCode).toBe(200);
  });

  it('counts wrong codes, then refuses even the right one with 429', async () => {
    const { phone, code } = await issue();
    const wrong = code === '000000' ? '000001' : '000000';
    for (const left of [2, 1, 0]) {
      const res = await verify({ phone_number: phone, code: wrong });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ code: 'OTP_INVALID', attempts_left: left });
    }
    const res = await verify({ phone_number: phone, code });
    expect(res.statusCode).toBe(429);
    expect(res.json()).toMatchObject({ code: 'OTP_ATTEMPTS_EXCEEDED' });
  });

  it('answers OTP_EXPIRED for a number that never asked for a code', async () => {
    const res = await verify({ phone_number: freshPhone(), code: '123456' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'OTP_EXPIRED' });
  });

  it('takes the code as a JSON number and restores its leading zeros', async () => {
    // Number(code) drops a leading zero when the code has one; 42 always does, and must
    // be compared as "000042" (OTP_INVALID), not refused as malformed.
    const { phone, code } = await issue();
    const res = await verify({ phone_number: phone, code: Number(code) });
    expect(res.statusCode).toBe(200);
    const { phone: other } = await issue();
    const wrong = await verify({ phone_number: other, code: 42 });
    expect(wrong.json()).toMatchObject({ code: 'OTP_INVALID' });
  });

  it.each([
    [{ phone_number: '+77088043414' }, /code is required/],
    [{ phone_number: '+77088043414', code: 'abcdef' }, /code must be 6 digits/],
    [{ phone_number: '+77088043414', code: '1234567' }, /code must be 6 digits/],
    [{ phone_number: '+77088043414', code: null }, /code/],
  ])('%j → VALIDATION_ERROR', async (payload, message) => {
    const res = await verify(payload);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'VALIDATION_ERROR' });
    expect(res.json().message).toMatch(message);
  });
});

describe('resend cooldown', () => {
  it('refuses a second send within the cooldown with 429 and Retry-After', async () => {
    const cooled = await buildTestApi({ OTP_RESEND_COOLDOWN_SECONDS: '60' });
    try {
      const phone = freshPhone();
      const first = await cooled.app.inject({
        method: 'POST',
        url: '/send-otp/',
        payload: { phone_number: phone },
      });
      expect(first.json().resend_after).toBe(60);
      const second = await cooled.app.inject({
        method: 'POST',
        url: '/send-otp/',
        payload: { phone_number: phone },
      });
      expect(second.statusCode).toBe(429);
      expect(second.json()).toMatchObject({ code: 'RESEND_TOO_SOON' });
      const retryAfter = Number(second.headers['retry-after']);
      expect(retryAfter).toBeGreaterThan(55);
      expect(retryAfter).toBeLessThanOrEqual(60);
      // The first code still works: a refused resend replaced nothing.
      const ok = await cooled.app.inject({
        method: 'POST',
        url: '/verify-otp/',
        payload: { phone_number: phone, code: first.json().debug_code },
      });
      expect(ok.statusCode).toBe(200);
    } finally {
      await cooled.close();
    }
  });
});

describe('with a Messaggio key (not debug mode)', () => {
  it('never puts the code in the answer', async () => {
    const live = await buildTestApi({ MESSAGGIO_API_KEY: 'some-login' });
    try {
      const res = await live.app.inject({
        method: 'POST',
        url: '/send-otp/',
        payload: { phone_number: freshPhone() },
      });
      expect(res.statusCode).toBe(200);
      expect(res.json()).not.toHaveProperty('debug_code');
    } finally {
      await live.close();
    }
  });
});
