import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadApiConfig } from '../src/config.js';
import { buildTestApi, freshPhone, type TestApi } from './helper.js';

// Findings of the attack review (issue 8) that each take one request to show.
const WEBHOOK_SECRET = 'hardening-webhook-secret-0123456789abcdef';
let api: TestApi;

beforeAll(async () => {
  api = await buildTestApi({ MESSAGGIO_WEBHOOK_SECRET: WEBHOOK_SECRET, OTP_RESEND_COOLDOWN_SECONDS: '0' });
});
afterAll(async () => {
  await api.close();
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('X-Request-Id', () => {
  it('keeps a well-formed id', async () => {
    const id = 'client-1.req:42_abc';
    const res = await api.app.inject({ method: 'GET', url: '/health/live', headers: { 'x-request-id': id } });
    expect(res.headers['x-request-id']).toBe(id);
  });

  it.each([
    ['8,000 characters', 'a'.repeat(8000)],
    ['129 characters', 'a'.repeat(129)],
    ['a space', 'has space'],
    ['a slash and quotes', '../"x"'],
  ])('replaces %s with a fresh id, in the answer and in the job', async (_label, id) => {
    const res = await api.app.inject({
      method: 'POST',
      url: '/send-otp/',
      headers: { 'x-request-id': id },
      payload: { phone_number: freshPhone() },
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-request-id']).toMatch(UUID);
    const job = await api.app.sendQueue.getJob(res.json().verification_id);
    expect(job?.data.requestId).toBe(res.headers['x-request-id']);
    expect(api.logs.text).not.toContain(id);
  });
});

describe('webhook secret in logs', () => {
  it.each([
    ['GET', `/webhooks/messaggio/${WEBHOOK_SECRET}`],
    ['GET', `/webhooks/messaggio/${WEBHOOK_SECRET}/longer/path`],
    ['POST', `/webhooks/messaggio/${WEBHOOK_SECRET}/x`],
    ['POST', `/webhooks/messaggio/${WEBHOOK_SECRET}`],
  ])('never logs the secret of %s %s', async (method, url) => {
    await api.app.inject({
      method: method as 'GET' | 'POST',
      url,
      payload: method === 'POST' ? [] : undefined,
    });
    expect(api.logs.text).toContain('/webhooks/messaggio/[redacted]');
    expect(api.logs.text).not.toContain(WEBHOOK_SECRET);
  });

  it('requires MESSAGGIO_WEBHOOK_SECRET to carry at least 32 characters', () => {
    const short = 'a1b2c3d4e5f6a7b8c9d0a1b2c3d4e5f'; // 31
    expect(() => loadApiConfig({ OTP_DEBUG: 'true', MESSAGGIO_WEBHOOK_SECRET: short })).toThrow(
      /MESSAGGIO_WEBHOOK_SECRET: .*\(hidden\)/,
    );
    const config = loadApiConfig({ OTP_DEBUG: 'true', MESSAGGIO_WEBHOOK_SECRET: `${short}0` });
    expect(config.webhooks.map((handler) => handler.provider)).toEqual(['messaggio']);
  });
});

describe('media types', () => {
  it.each([['/send-otp/'], ['/verify-otp/']])(
    'answers 415 to a JSON body sent as text/plain on %s',
    async (url) => {
      const res = await api.app.inject({
        method: 'POST',
        url,
        headers: { 'content-type': 'text/plain' },
        payload: JSON.stringify({ phone_number: freshPhone(), code: '123456' }),
      });
      expect(res.statusCode).toBe(415);
      expect(res.json()).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE' });
    },
  );
});
