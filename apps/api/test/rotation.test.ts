import { deriveKeys } from '@otp/core';
import { afterAll, describe, expect, it } from 'vitest';
import { loadApiConfig } from '../src/config.js';
import { apisSharingState, freshPhone } from './helper.js';

// Issue 8, item 10: OTP_SECRET rotation keeps codes in flight working.
const OLD = 'rotation-old-secret-0123456789abcdef0123456789';
const NEW = 'rotation-new-secret-0123456789abcdef0123456789';
const apis = apisSharingState('rotate');
const { prefix } = apis;
const api = (secrets: { OTP_SECRET: string; OTP_SECRET_PREVIOUS?: string }) =>
  apis.build({ OTP_RESEND_COOLDOWN_SECONDS: '0', ...secrets });
afterAll(() => apis.close());

const sendOn = async (app: Awaited<ReturnType<typeof api>>, phone: string) =>
  (await app.inject({ method: 'POST', url: '/send-otp/', payload: { phone_number: phone } })).json()
    .debug_code as string;
const verifyOn = (app: Awaited<ReturnType<typeof api>>, phone: string, code: string) =>
  app.inject({ method: 'POST', url: '/verify-otp/', payload: { phone_number: phone, code } });

describe('OTP_SECRET rotation', () => {
  it('stores the key id with the digest and in the sealed job', async () => {
    const before = await api({ OTP_SECRET: OLD });
    const phone = freshPhone();
    await sendOn(before, phone);
    const keyId = deriveKeys(OLD).keyId;
    expect(await apis.redis.hget(`${prefix}code:{${phone}}`, 'd')).toMatch(
      new RegExp(`^${keyId}:[0-9a-f]{64}$`),
    );
    const [job] = await before.sendQueue.getJobs(['waiting']);
    expect(job?.data.sealed).toMatch(new RegExp(`^${keyId}:v1\\.`));
  });

  it('verifies a code issued before the rotation with OTP_SECRET_PREVIOUS, and new codes with OTP_SECRET', async () => {
    const before = await api({ OTP_SECRET: OLD });
    const phone = freshPhone();
    const oldCode = await sendOn(before, phone);

    const without = await api({ OTP_SECRET: NEW });
    const refused = await verifyOn(without, phone, oldCode);
    expect(refused.json()).toMatchObject({ code: 'OTP_INVALID' });

    const other = freshPhone();
    const oldCode2 = await sendOn(before, other);
    const rotating = await api({ OTP_SECRET: NEW, OTP_SECRET_PREVIOUS: OLD });
    expect((await verifyOn(rotating, other, oldCode2)).statusCode).toBe(200);
    const third = freshPhone();
    const newCode = await sendOn(rotating, third);
    expect(await apis.redis.hget(`${prefix}code:{${third}}`, 'd')).toMatch(
      new RegExp(`^${deriveKeys(NEW).keyId}:`),
    );
    expect((await verifyOn(rotating, third, newCode)).statusCode).toBe(200);
  });

  it('refuses OTP_SECRET_PREVIOUS equal to OTP_SECRET, and a weak one in production', () => {
    expect(() => loadApiConfig({ OTP_DEBUG: 'true', OTP_SECRET: NEW, OTP_SECRET_PREVIOUS: NEW })).toThrow(
      /OTP_SECRET_PREVIOUS: is the same as OTP_SECRET/,
    );
    expect(() =>
      loadApiConfig({
        NODE_ENV: 'production',
        MESSAGGIO_API_KEY: 'login',
        OTP_SECRET: 'ab'.repeat(32),
        OTP_SECRET_PREVIOUS: 'x'.repeat(64),
      }),
    ).toThrow(/OTP_SECRET_PREVIOUS: is one character repeated/);
  });
});
