import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApi, freshPhone, type TestApi } from './helper.js';

// Issue 12, item 2: an API key may be limited to its own app hashes (API_KEY_APP_HASHES).
const sha = (value: string) => createHash('sha256').update(value).digest('hex');
const MOBILE = 'app-hashes-mobile-key-0123456789';
const OTHER = 'app-hashes-other-key-0123456789';
let api: TestApi;
beforeAll(async () => {
  api = await buildTestApi({
    API_KEYS: `mobile:${sha(MOBILE)},other:${sha(OTHER)}`,
    API_KEY_APP_HASHES: 'mobile:FA+9qCX9VSu,mobile:AbCdEfGhIjK',
    OTP_RESEND_COOLDOWN_SECONDS: '0',
  });
});
afterAll(async () => {
  await api.close();
});

const send = (key: string, appHash: string) =>
  api.app.inject({
    method: 'POST',
    url: '/send-otp/',
    headers: { 'x-api-key': key },
    payload: { phone_number: freshPhone(), app_hash: appHash },
  });

describe('API_KEY_APP_HASHES', () => {
  it('lets a listed key send only its hashes; other keys any', async () => {
    expect((await send(MOBILE, 'AbCdEfGhIjK')).statusCode).toBe(200);
    const refused = await send(MOBILE, 'ZZZZZZZZZZZ');
    expect(refused.statusCode).toBe(400);
    expect(refused.json()).toMatchObject({
      code: 'VALIDATION_ERROR',
      message: expect.stringMatching(/app_hash/),
    });
    expect((await send(OTHER, 'ZZZZZZZZZZZ')).statusCode).toBe(200);
  });

  it('is checked at start-up', async () => {
    await expect(
      buildTestApi({ API_KEYS: `mobile:${sha(MOBILE)}`, API_KEY_APP_HASHES: 'nobody:FA+9qCX9VSu' }),
    ).rejects.toThrow(/API_KEY_APP_HASHES: "nobody" is not a key name/);
    await expect(
      buildTestApi({ API_KEYS: `mobile:${sha(MOBILE)}`, API_KEY_APP_HASHES: 'mobile:short' }),
    ).rejects.toThrow(/the hash must be 11/);
  });
});
