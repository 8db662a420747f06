import { afterEach, describe, expect, it } from 'vitest';
import { buildTestApi, freshPhone, type TestApi } from './helper.js';

const HOUR = 3_600_000;
let api: TestApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

/** A clock the test moves forward, so windows can be crossed without waiting. */
function movableClock() {
  let offset = 0;
  return { now: () => Date.now() + offset, advance: (ms: number) => (offset += ms) };
}

const LIMITS_OFF = {
  OTP_RESEND_COOLDOWN_SECONDS: '0',
  OTP_SENDS_PER_PHONE_PER_HOUR: '0',
  OTP_SENDS_PER_PHONE_PER_DAY: '0',
  OTP_SENDS_PER_IP_PER_HOUR: '0',
};

/** Not loopback: in debug mode (these tests have no Messaggio key) loopback skips per-IP limits. */
const CLIENT_IP = '203.0.113.7';

async function send(
  a: TestApi,
  phone: string,
  headers: Record<string, string> = {},
  remoteAddress = CLIENT_IP,
) {
  return a.app.inject({
    method: 'POST',
    url: '/send-otp/',
    headers,
    remoteAddress,
    payload: { phone_number: phone },
  });
}

function expectRefused(res: Awaited<ReturnType<typeof send>>, code: string, maxRetryAfter: number) {
  expect(res.statusCode).toBe(429);
  const body = res.json();
  expect(body).toMatchObject({ statusCode: 429, code });
  expect(body.message).toMatch(/try again|resumes/);
  const retryAfter = Number(res.headers['retry-after']);
  expect(retryAfter).toBeGreaterThan(0);
  expect(retryAfter).toBeLessThanOrEqual(maxRetryAfter);
  expect(body.retry_after).toBe(retryAfter);
}

describe('per-phone sliding window (OTP_SENDS_PER_PHONE_PER_HOUR)', () => {
  it('allows 3, refuses the 4th, allows again an hour later', async () => {
    const clock = movableClock();
    api = await buildTestApi({ ...LIMITS_OFF, OTP_SENDS_PER_PHONE_PER_HOUR: '3' }, { clock: clock.now });
    const phone = freshPhone();
    for (let i = 0; i < 3; i++) expect((await send(api, phone)).statusCode).toBe(200);
    expectRefused(await send(api, phone), 'PHONE_SEND_LIMIT', 3600);
    // Another number is not affected.
    expect((await send(api, freshPhone())).statusCode).toBe(200);
    clock.advance(HOUR + 1000);
    expect((await send(api, phone)).statusCode).toBe(200);
  });
});

describe('per-phone daily cap (OTP_SENDS_PER_PHONE_PER_DAY)', () => {
  it('allows 4 spread over hours, refuses the 5th, allows again after 24 h', async () => {
    const clock = movableClock();
    api = await buildTestApi({ ...LIMITS_OFF, OTP_SENDS_PER_PHONE_PER_DAY: '4' }, { clock: clock.now });
    const phone = freshPhone();
    for (let i = 0; i < 4; i++) {
      expect((await send(api, phone)).statusCode).toBe(200);
      clock.advance(2 * HOUR);
    }
    expectRefused(await send(api, phone), 'PHONE_SEND_LIMIT', 24 * 3600);
    clock.advance(24 * HOUR);
    expect((await send(api, phone)).statusCode).toBe(200);
  });
});

describe('per-IP window (OTP_SENDS_PER_IP_PER_HOUR)', () => {
  it('limits callers without a key by IP, across numbers, and lets a window pass', async () => {
    const clock = movableClock();
    api = await buildTestApi({ ...LIMITS_OFF, OTP_SENDS_PER_IP_PER_HOUR: '2' }, { clock: clock.now });
    expect((await send(api, freshPhone())).statusCode).toBe(200);
    expect((await send(api, freshPhone())).statusCode).toBe(200);
    expectRefused(await send(api, freshPhone()), 'IP_SEND_LIMIT', 3600);
    clock.advance(HOUR + 1000);
    expect((await send(api, freshPhone())).statusCode).toBe(200);
  });

  it('in debug mode, exempts loopback callers (IPv4 and IPv6), and only them', async () => {
    api = await buildTestApi({ ...LIMITS_OFF, OTP_SENDS_PER_IP_PER_HOUR: '1' });
    expect(api.config.debugMode).toBe(true);
    for (const loopback of ['127.0.0.1', '::1', '::ffff:127.0.0.1', '127.0.0.2']) {
      for (let i = 0; i < 3; i++) expect((await send(api, freshPhone(), {}, loopback)).statusCode).toBe(200);
    }
    expect((await send(api, freshPhone())).statusCode).toBe(200);
    expectRefused(await send(api, freshPhone()), 'IP_SEND_LIMIT', 3600);
  });

  it('with a provider configured (no debug mode), limits loopback callers like any other', async () => {
    api = await buildTestApi({ ...LIMITS_OFF, OTP_SENDS_PER_IP_PER_HOUR: '1', MESSAGGIO_API_KEY: 'login' });
    expect(api.config.debugMode).toBe(false);
    expect((await send(api, freshPhone(), {}, '127.0.0.1')).statusCode).toBe(200);
    expectRefused(await send(api, freshPhone(), {}, '127.0.0.1'), 'IP_SEND_LIMIT', 3600);
  });

  it('ignores X-Forwarded-For unless TRUST_PROXY says to believe it', async () => {
    api = await buildTestApi({ ...LIMITS_OFF, OTP_SENDS_PER_IP_PER_HOUR: '1' });
    expect((await send(api, freshPhone(), { 'x-forwarded-for': '198.51.100.1' })).statusCode).toBe(200);
    // Same socket address, a different forged header: still the same caller.
    expect((await send(api, freshPhone(), { 'x-forwarded-for': '198.51.100.2' })).statusCode).toBe(429);
  });

  it('with TRUST_PROXY, counts each forwarded client separately', async () => {
    api = await buildTestApi({ ...LIMITS_OFF, OTP_SENDS_PER_IP_PER_HOUR: '1', TRUST_PROXY: 'true' });
    expect((await send(api, freshPhone(), { 'x-forwarded-for': '198.51.100.1' })).statusCode).toBe(200);
    expect((await send(api, freshPhone(), { 'x-forwarded-for': '198.51.100.2' })).statusCode).toBe(200);
    expect((await send(api, freshPhone(), { 'x-forwarded-for': '198.51.100.1' })).statusCode).toBe(429);
  });

  it('does not apply to callers with an API key', async () => {
    const { createHash } = await import('node:crypto');
    const key = 'per-ip-test-key-0123456789';
    api = await buildTestApi({
      ...LIMITS_OFF,
      OTP_SENDS_PER_IP_PER_HOUR: '1',
      API_KEYS: `backend:${createHash('sha256').update(key).digest('hex')}`,
    });
    for (let i = 0; i < 3; i++) {
      expect((await send(api, freshPhone(), { authorization: `Bearer ${key}` })).statusCode).toBe(200);
    }
  });
});

describe('per-country daily limit (SMS_COUNTRY_DAILY_LIMITS)', () => {
  it('limits only the listed country, until the next UTC day', async () => {
    const clock = movableClock();
    api = await buildTestApi({ ...LIMITS_OFF, SMS_COUNTRY_DAILY_LIMITS: 'KZ:2' }, { clock: clock.now });
    expect((await send(api, freshPhone())).statusCode).toBe(200);
    expect((await send(api, freshPhone())).statusCode).toBe(200);
    expectRefused(await send(api, freshPhone()), 'COUNTRY_SEND_LIMIT', 24 * 3600);
    // Russia has no limit configured.
    expect((await send(api, '+79161234567')).statusCode).toBe(200);
    clock.advance(24 * HOUR);
    expect((await send(api, freshPhone())).statusCode).toBe(200);
  });
});

describe('global daily budget (SMS_DAILY_BUDGET)', () => {
  it('stops all sending with SMS_BUDGET_EXHAUSTED, and resumes the next UTC day', async () => {
    const clock = movableClock();
    api = await buildTestApi({ ...LIMITS_OFF, SMS_DAILY_BUDGET: '2' }, { clock: clock.now });
    expect((await send(api, freshPhone())).statusCode).toBe(200);
    expect((await send(api, '+79161234568')).statusCode).toBe(200);
    expectRefused(await send(api, freshPhone()), 'SMS_BUDGET_EXHAUSTED', 24 * 3600);
    clock.advance(24 * HOUR);
    expect((await send(api, freshPhone())).statusCode).toBe(200);
  });
});

describe('failed verifies per phone across codes (OTP_FAILED_VERIFIES_PER_PHONE_PER_HOUR)', () => {
  it('a new code does not buy new guesses; the window passing does', async () => {
    const clock = movableClock();
    api = await buildTestApi(
      { ...LIMITS_OFF, OTP_FAILED_VERIFIES_PER_PHONE_PER_HOUR: '3', OTP_MAX_ATTEMPTS: '5' },
      { clock: clock.now },
    );
    const phone = freshPhone();
    const verify = (code: string) =>
      api?.app.inject({ method: 'POST', url: '/verify-otp/', payload: { phone_number: phone, code } });
    const first = (await send(api, phone)).json().debug_code as string;
    const wrong = first === '000000' ? '000001' : '000000';
    expect((await verify(wrong))?.statusCode).toBe(400);
    expect((await verify(wrong))?.statusCode).toBe(400);
    const second = (await send(api, phone)).json().debug_code as string;
    expect((await verify(second === wrong ? '999999' : wrong))?.statusCode).toBe(400);
    const locked = await verify(second);
    expect(locked?.statusCode).toBe(429);
    expect(locked?.json()).toMatchObject({ code: 'VERIFY_LIMIT_EXCEEDED' });
    expect(Number(locked?.headers['retry-after'])).toBeLessThanOrEqual(3600);
    clock.advance(HOUR + 1000);
    expect((await verify(second))?.statusCode).toBe(200);
  });

  it('answers an unknown number exactly like an expired code, limit included', async () => {
    api = await buildTestApi({ ...LIMITS_OFF, OTP_FAILED_VERIFIES_PER_PHONE_PER_HOUR: '2' });
    const never = freshPhone();
    const used = freshPhone();
    const code = (await send(api, used)).json().debug_code as string;
    expect(
      (await api.app.inject({ method: 'POST', url: '/verify-otp/', payload: { phone_number: used, code } }))
        .statusCode,
    ).toBe(200);
    const answers = [];
    for (const phone of [never, used, never, used, never, used]) {
      const res = await api.app.inject({
        method: 'POST',
        url: '/verify-otp/',
        payload: { phone_number: phone, code: '123456' },
      });
      answers.push([res.statusCode, res.json().code, res.json().message]);
    }
    // Pairwise identical: nothing tells the never-used number from the used one.
    expect(answers[0]).toEqual(answers[1]);
    expect(answers[2]).toEqual(answers[3]);
    expect(answers[4]?.slice(0, 2)).toEqual(answers[5]?.slice(0, 2));
    expect(answers[4]?.[1]).toBe('VERIFY_LIMIT_EXCEEDED');
  });
});

describe('blocked prefixes (BLOCKED_PREFIXES)', () => {
  it('refuses numbers under a blocked prefix with 403 PHONE_BLOCKED, and only those', async () => {
    api = await buildTestApi({ ...LIMITS_OFF, BLOCKED_PREFIXES: '+7700' });
    const blocked = await send(api, '+7 700 123 45 67');
    expect(blocked.statusCode).toBe(403);
    expect(blocked.json()).toMatchObject({ code: 'PHONE_BLOCKED' });
    expect((await send(api, freshPhone())).statusCode).toBe(200);
  });
});

describe('test numbers (TEST_PHONE_NUMBERS)', () => {
  it('answer like a normal send, verify with the fixed code, queue no SMS, and are logged', async () => {
    api = await buildTestApi({
      ...LIMITS_OFF,
      TEST_PHONE_NUMBERS: '+77000000001:424242',
      MESSAGGIO_API_KEY: 'k',
    });
    const res = await send(api, '+7 700 000 00 01');
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(Object.keys(body).sort()).toEqual([
      'expires_in',
      'message',
      'phone_number',
      'resend_after',
      'resent',
      'verification_id',
    ]);
    expect(await api.app.sendQueue.getJob(body.verification_id)).toBeUndefined();
    expect(await api.app.sendQueue.count()).toBe(0);
    expect(api.logs.text).toMatch(/test number used: no SMS sent/);
    const ok = await api.app.inject({
      method: 'POST',
      url: '/verify-otp/',
      payload: { phone_number: '+77000000001', code: '424242' },
    });
    expect(ok.statusCode).toBe(200);
  });

  it('still obey the send limits', async () => {
    api = await buildTestApi({
      ...LIMITS_OFF,
      OTP_SENDS_PER_PHONE_PER_HOUR: '1',
      TEST_PHONE_NUMBERS: '+77000000001:424242',
    });
    expect((await send(api, '+77000000001')).statusCode).toBe(200);
    expect((await send(api, '+77000000001')).statusCode).toBe(429);
  });
});
