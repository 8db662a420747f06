import { afterEach, describe, expect, it } from 'vitest';
import { buildTestApi, freshPhone, type TestApi } from './helper.js';

// Issue 8, item 3: a stranger cannot lock a number out, and a locked number gets no SMS.
let api: TestApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

const build = (env: Record<string, string> = {}) =>
  buildTestApi({ TRUST_PROXY: 'true', OTP_RESEND_COOLDOWN_SECONDS: '0', ...env });

function from(app: TestApi, ip: string) {
  return {
    send: (phone: string) =>
      app.app.inject({
        method: 'POST',
        url: '/send-otp/',
        headers: { 'x-forwarded-for': ip },
        payload: { phone_number: phone },
      }),
    verify: (phone: string, code: string) =>
      app.app.inject({
        method: 'POST',
        url: '/verify-otp/',
        headers: { 'x-forwarded-for': ip },
        payload: { phone_number: phone, code },
      }),
  };
}

describe('failed verifies per (phone, client)', () => {
  it('10 wrong verifies from a stranger do not stop the real user from verifying', async () => {
    api = await build();
    const phone = freshPhone();
    const attacker = from(api, '198.51.100.1');
    const user = from(api, '203.0.113.5');
    // The number never asked for a code; the attacker fills its own bucket for it.
    for (let i = 0; i < 10; i += 1) expect((await attacker.verify(phone, '000000')).statusCode).toBe(400);
    const locked = await attacker.verify(phone, '000000');
    expect(locked.statusCode).toBe(429);
    expect(locked.json()).toMatchObject({ code: 'VERIFY_LIMIT_EXCEEDED' });
    // The real user asks for a code and verifies it from their own address.
    const code = (await user.send(phone)).json().debug_code as string;
    const ok = await user.verify(phone, code);
    expect(ok.statusCode).toBe(200);
  });

  it('locks the number for every client at OTP_FAILED_VERIFIES_PER_PHONE_CEILING, and sends it no SMS', async () => {
    api = await build({
      OTP_FAILED_VERIFIES_PER_PHONE_PER_HOUR: '2',
      OTP_FAILED_VERIFIES_PER_PHONE_CEILING: '4',
    });
    const phone = freshPhone();
    for (const ip of ['198.51.100.1', '198.51.100.2']) {
      for (let i = 0; i < 2; i += 1) await from(api, ip).verify(phone, '000000');
    }
    const user = from(api, '203.0.113.5');
    const refused = await user.send(phone);
    expect(refused.statusCode).toBe(429);
    expect(refused.json()).toMatchObject({ code: 'PHONE_VERIFY_LOCKED', retry_after: expect.any(Number) });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(await api.app.sendQueue.count()).toBe(0);
    expect((await user.verify(phone, '123456')).json()).toMatchObject({ code: 'VERIFY_LIMIT_EXCEEDED' });
  });
});

describe('failed verifies per caller address (OTP_VERIFIES_PER_IP_PER_HOUR)', () => {
  it('stops an address that fails across many numbers; others are unaffected', async () => {
    api = await build({ OTP_VERIFIES_PER_IP_PER_HOUR: '3' });
    const scanner = from(api, '198.51.100.7');
    for (let i = 0; i < 3; i += 1)
      expect((await scanner.verify(freshPhone(), '000000')).statusCode).toBe(400);
    const stopped = await scanner.verify(freshPhone(), '000000');
    expect(stopped.statusCode).toBe(429);
    expect(stopped.json()).toMatchObject({ code: 'VERIFY_LIMIT_EXCEEDED' });
    expect((await from(api, '198.51.100.8').verify(freshPhone(), '000000')).statusCode).toBe(400);
  });

  it('does not count right codes', async () => {
    api = await build({ OTP_VERIFIES_PER_IP_PER_HOUR: '1' });
    const client = from(api, '198.51.100.9');
    for (let i = 0; i < 3; i += 1) {
      const phone = freshPhone();
      const code = (await client.send(phone)).json().debug_code as string;
      expect((await client.verify(phone, code)).statusCode).toBe(200);
    }
  });
});
