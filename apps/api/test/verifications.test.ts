import { createHash, randomUUID } from 'node:crypto';
import { ConfigError, createLogger } from '@otp/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/app.js';
import { loadApiConfig } from '../src/config.js';
import { buildTestApi, freshPhone, LogCapture, type TestApi } from './helper.js';

const SECRET = 'api-test-webhook-secret-0123456789';
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

let api: TestApi;
beforeAll(async () => {
  api = await buildTestApi({ MESSAGGIO_WEBHOOK_SECRET: SECRET, OTP_RESEND_COOLDOWN_SECONDS: '0' });
});
afterAll(async () => {
  await api.close();
});

const getStatus = (id: string, headers: Record<string, string> = {}) =>
  api.app.inject({ method: 'GET', url: `/verifications/${id}`, headers });
const report = (payload: unknown, secret = SECRET) =>
  api.app.inject({ method: 'POST', url: `/webhooks/messaggio/${secret}`, payload: payload as object });
const webhookBody = (messageId: string, status: number | string, externalId?: string) => ({
  type: 'status',
  message_id: messageId,
  ...(externalId === undefined ? {} : { external_id: externalId }),
  channel: 'sms',
  status,
  timestamp: '2026-08-14T10-51-42Z',
});
const pollBody = (messageId: string, status: number) => ({
  message_id: messageId,
  status: { status, channel: 'sms', recipient: { phone: '77088043414' } },
  timestamp: '2026-08-14T10-51-42Z',
});

async function sendOtp() {
  const phone = freshPhone();
  const res = await api.app.inject({ method: 'POST', url: '/send-otp/', payload: { phone_number: phone } });
  expect(res.statusCode).toBe(200);
  const body = res.json() as { verification_id: string; debug_code: string };
  return { phone, id: body.verification_id, code: body.debug_code, requestId: res.headers['x-request-id'] };
}

/** A verification the worker has handed to Messaggio as `messageId`. */
async function sentVerification() {
  const sent = await sendOtp();
  const messageId = randomUUID();
  await api.app.statusStore.sending({ verificationId: sent.id, attempt: 1 });
  await api.app.statusStore.sent({ verificationId: sent.id, provider: 'messaggio', messageId, attempt: 1 });
  return { ...sent, messageId };
}

async function statusOf(id: string) {
  const res = await getStatus(id);
  expect(res.statusCode).toBe(200);
  return res.json();
}

describe('GET /verifications/:id', () => {
  it('follows one code: queued → sending → sent → delivered → verified', async () => {
    const { phone, id, code } = await sendOtp();
    const queued = await statusOf(id);
    expect(queued).toEqual({
      verification_id: id,
      status: 'queued',
      phone_number: `${phone.slice(0, 5)}***${phone.slice(-4)}`,
      country: 'KZ',
      created_at: expect.stringMatching(ISO),
      updated_at: expect.stringMatching(ISO),
      expires_at: expect.stringMatching(ISO),
      attempts: 0,
      reached_at: { queued: queued.created_at },
    });
    expect(Date.parse(queued.expires_at) - Date.parse(queued.created_at)).toBe(600_000);

    await api.app.statusStore.sending({ verificationId: id, attempt: 1 });
    expect(await statusOf(id)).toMatchObject({ status: 'sending', attempts: 1 });

    const messageId = randomUUID();
    await api.app.statusStore.sent({ verificationId: id, provider: 'messaggio', messageId, attempt: 1 });
    expect(await statusOf(id)).toMatchObject({
      status: 'sent',
      provider: 'messaggio',
      provider_message_id: messageId,
    });

    expect((await report(webhookBody(messageId, 70))).json()).toEqual({ ok: true });
    expect((await statusOf(id)).status).toBe('delivered');

    const verified = await api.app.inject({
      method: 'POST',
      url: '/verify-otp/',
      payload: { phone_number: phone, code },
    });
    expect(verified.statusCode).toBe(200);
    const final = await statusOf(id);
    expect(final).toMatchObject({ status: 'verified', attempts: 1, provider_message_id: messageId });
    expect(Object.keys(final.reached_at)).toEqual(['queued', 'sending', 'sent', 'delivered', 'verified']);
    for (const at of Object.values(final.reached_at)) expect(at).toMatch(ISO);
    expect(final.updated_at).toBe(final.reached_at.verified);
    // Neither the code nor the full number is ever shown.
    const raw = JSON.stringify(final);
    expect(raw).not.toContain(phone);
    expect(raw).not.toMatch(new RegExp(`"${code}"`));
  });

  it('shows undelivered', async () => {
    const { id, messageId } = await sentVerification();
    expect((await report(pollBody(messageId, 60))).statusCode).toBe(200);
    const body = await statusOf(id);
    expect(body.status).toBe('undelivered');
    expect(body.reached_at.undelivered).toMatch(ISO);
  });

  it('shows failed with a stable code and its fixed description, never the stored text', async () => {
    const { id, code } = await sendOtp();
    await api.app.statusStore.sending({ verificationId: id, attempt: 1 });
    // As an older worker stored it: the provider's words, echoing the SMS and the callback URL.
    await api.app.statusStore.failed({
      verificationId: id,
      reason: `invalid request: "Ваш код подтверждения: ${code}" callback https://x/webhooks/messaggio/${SECRET}`,
      code: 'SMS_REJECTED',
      attempt: 1,
    });
    const body = await statusOf(id);
    expect(body).toMatchObject({
      status: 'failed',
      failure_code: 'SMS_REJECTED',
      failure_reason: 'The number cannot receive this SMS; it was not sent.',
      attempts: 1,
    });
    const raw = JSON.stringify(body);
    expect(raw).not.toContain(code);
    expect(raw).not.toContain(SECRET);
    expect(raw).not.toContain('подтверждения');
  });

  it('shows expired once the code has run out unverified', async () => {
    const verificationId = randomUUID();
    const expiresAt = Date.now() - 1000;
    await api.app.statusStore.queued({
      verificationId,
      phone: freshPhone(),
      country: 'KZ',
      expiresAt,
      at: expiresAt - 600_000,
    });
    const body = await statusOf(verificationId);
    expect(body).toMatchObject({ status: 'expired', expires_at: new Date(expiresAt).toISOString() });
    expect(body.reached_at.expired).toBe(body.expires_at);
  });

  it('answers 404 VERIFICATION_NOT_FOUND for an id it does not know', async () => {
    const res = await getStatus(randomUUID());
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ statusCode: 404, code: 'VERIFICATION_NOT_FOUND' });
  });

  it('refuses a malformed id with 400 VALIDATION_ERROR', async () => {
    const res = await getStatus('not%20an%20id');
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'VALIDATION_ERROR' });
  });
});

describe('POST /webhooks/messaggio/:secret', () => {
  it('accepts the webhook shape and keeps the secret out of every log line', async () => {
    const { id, messageId, requestId } = await sentVerification();
    const res = await report(webhookBody(messageId, 70, id));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ ok: true });
    expect((await statusOf(id)).status).toBe('delivered');
    const line = api.logs.lines.find((l) => l.includes('delivery report applied') && l.includes(messageId));
    expect(JSON.parse(line ?? '{}')).toMatchObject({
      verificationId: id,
      requestId,
      reqId: expect.any(String),
      dlrStatus: '70',
      outcome: 'applied',
      status: 'delivered',
    });
    expect(api.logs.text).not.toContain(SECRET);
  });

  it('accepts the nested status-poll shape', async () => {
    const { id, messageId } = await sentVerification();
    expect((await report(pollBody(messageId, 70))).statusCode).toBe(200);
    expect((await statusOf(id)).status).toBe('delivered');
  });

  it('accepts an array mixing both shapes, bigger than BODY_LIMIT_BYTES', async () => {
    const { id, messageId } = await sentVerification();
    const filler = Array.from({ length: 40 }, () => webhookBody(randomUUID(), 100));
    const body = [pollBody(messageId, 100), ...filler, webhookBody(messageId, 70)];
    expect(JSON.stringify(body).length).toBeGreaterThan(api.config.bodyLimitBytes);
    const res = await report(body);
    expect(res.statusCode).toBe(200);
    expect((await statusOf(id)).status).toBe('delivered');
  });

  it('answers 200 to a duplicate and to an out-of-order report, and changes nothing', async () => {
    const { id, messageId } = await sentVerification();
    await report(webhookBody(messageId, 70));
    const before = await statusOf(id);
    for (const status of [70, 100, 200, 70]) {
      const res = await report(webhookBody(messageId, status));
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ ok: true });
    }
    expect(await statusOf(id)).toEqual(before);
  });

  it('answers 200 to an unknown message id', async () => {
    const res = await report(webhookBody(randomUUID(), 70, randomUUID()));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ ok: true });
  });

  it('answers 200 to an unknown status code and keeps the message pending', async () => {
    const { id, messageId } = await sentVerification();
    expect((await report(webhookBody(messageId, 42))).statusCode).toBe(200);
    expect((await statusOf(id)).status).toBe('sent');
    expect(api.logs.text).toMatch(/unknown status code; message kept pending/);
  });

  it('reads a status sent as a string of digits', async () => {
    const { id, messageId } = await sentVerification();
    expect((await report(webhookBody(messageId, '70'))).statusCode).toBe(200);
    expect((await statusOf(id)).status).toBe('delivered');
  });

  it('does not let a late report overwrite verified', async () => {
    const { phone, id, code, messageId } = await sentVerification();
    await api.app.inject({ method: 'POST', url: '/verify-otp/', payload: { phone_number: phone, code } });
    expect((await report(webhookBody(messageId, 60))).statusCode).toBe(200);
    expect((await statusOf(id)).status).toBe('verified');
  });

  it.each([
    ['wrong', 'nope-nope-nope-nope-nope'],
    ['one character off', `${SECRET.slice(0, -1)}x`],
    ['a prefix', SECRET.slice(0, 20)],
    ['longer', `${SECRET}0`],
  ])('answers a %s secret exactly like an unknown route', async (_label, secret) => {
    const res = await report(webhookBody(randomUUID(), 70), secret);
    expect(res.statusCode).toBe(404);
    const unknownRoute = await api.app.inject({
      method: 'POST',
      url: `/webhooks/nothing/${secret}`,
      payload: {},
    });
    expect(res.json()).toEqual({
      ...unknownRoute.json(),
      message: `No route for POST /webhooks/messaggio/${secret}.`,
    });
    expect(res.json()).toMatchObject({ statusCode: 404, code: 'NOT_FOUND', error: 'Not Found' });
    // Said in the log (a mismatched secret loses every report), without the guess; and no
    // access log line of this route shows its URL.
    const refused = api.logs.lines.filter((l) => l.includes('wrong or unset webhook secret'));
    expect(refused.length).toBeGreaterThan(0);
    for (const line of refused) expect(line).not.toContain(secret);
    expect(api.logs.lines.filter((l) => l.includes('/webhooks/messaggio/'))).toEqual([]);
  });

  it('checks the secret before reading the body', async () => {
    const res = await api.app.inject({
      method: 'POST',
      url: '/webhooks/messaggio/wrong-secret-0123456789',
      headers: { 'content-type': 'application/json' },
      payload: '{not json',
    });
    expect(res.statusCode).toBe(404);
  });

  it.each([
    ['no message_id', { type: 'status', status: 70 }],
    ['no status', { type: 'status', message_id: 'm1' }],
    ['a nested status without its code', { message_id: 'm1', status: { channel: 'sms' } }],
    ['a status that is not a number', { message_id: 'm1', status: 'delivered' }],
    ['an empty array', []],
    ['a bare string', 'm1'],
  ])('refuses a body with %s as 400 VALIDATION_ERROR', async (_label, payload) => {
    const res = await api.app.inject({
      method: 'POST',
      url: `/webhooks/messaggio/${SECRET}`,
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify(payload),
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'VALIDATION_ERROR' });
  });

  it('refuses malformed JSON as 400 VALIDATION_ERROR', async () => {
    const res = await api.app.inject({
      method: 'POST',
      url: `/webhooks/messaggio/${SECRET}`,
      headers: { 'content-type': 'application/json' },
      payload: '{"message_id": ',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'VALIDATION_ERROR' });
  });
});

describe('without MESSAGGIO_WEBHOOK_SECRET', () => {
  let bare: TestApi;
  beforeAll(async () => {
    bare = await buildTestApi();
  });
  afterAll(async () => {
    await bare.close();
  });

  it('answers 404 on the webhook, whatever the secret', async () => {
    for (const secret of [SECRET, 'undefined', 'anything-at-all-0123']) {
      const res = await bare.app.inject({
        method: 'POST',
        url: `/webhooks/messaggio/${secret}`,
        payload: webhookBody(randomUUID(), 70),
      });
      expect(res.statusCode).toBe(404);
      expect(res.json()).toMatchObject({ code: 'NOT_FOUND' });
    }
  });
});

describe('with API_KEYS', () => {
  const KEY = 'status-reader-key-0123456789abcdef';
  let keyed: TestApi;
  beforeAll(async () => {
    const sha = createHash('sha256').update(KEY).digest('hex');
    keyed = await buildTestApi({ API_KEYS: `backend:${sha}`, MESSAGGIO_WEBHOOK_SECRET: SECRET });
  });
  afterAll(async () => {
    await keyed.close();
  });

  it('needs a key to read a verification', async () => {
    const sent = await keyed.app.inject({
      method: 'POST',
      url: '/send-otp/',
      headers: { 'x-api-key': KEY },
      payload: { phone_number: freshPhone() },
    });
    const id = sent.json().verification_id as string;
    const refused = await keyed.app.inject({ method: 'GET', url: `/verifications/${id}` });
    expect(refused.statusCode).toBe(401);
    expect(refused.json()).toMatchObject({ code: 'UNAUTHORIZED' });
    // Not even whether the id exists is told without a key.
    const unknown = await keyed.app.inject({ method: 'GET', url: `/verifications/${randomUUID()}` });
    expect(unknown.statusCode).toBe(401);
    const allowed = await keyed.app.inject({
      method: 'GET',
      url: `/verifications/${id}`,
      headers: { authorization: `Bearer ${KEY}` },
    });
    expect(allowed.statusCode).toBe(200);
    expect(allowed.json()).toMatchObject({ verification_id: id, status: 'queued' });
  });

  it('takes delivery reports without a key (Messaggio cannot send one)', async () => {
    const res = await keyed.app.inject({
      method: 'POST',
      url: `/webhooks/messaggio/${SECRET}`,
      payload: webhookBody(randomUUID(), 70),
    });
    expect(res.statusCode).toBe(200);
  });
});

describe('when Redis is unreachable', () => {
  let app: Awaited<ReturnType<typeof createApp>>;
  beforeAll(async () => {
    // Port 1 on loopback: nothing listens there, so every connection is refused at once.
    const config = loadApiConfig({
      NODE_ENV: 'test',
      OTP_DEBUG: 'true',
      REDIS_URL: 'redis://127.0.0.1:1',
      MESSAGGIO_WEBHOOK_SECRET: SECRET,
    });
    app = await createApp({ config, logger: createLogger({ service: 'otp-api', stream: new LogCapture() }) });
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
  });

  it('answers 503 to a delivery report, so Messaggio sends it again', async () => {
    const res = await app.inject({
      method: 'POST',
      url: `/webhooks/messaggio/${SECRET}`,
      payload: webhookBody(randomUUID(), 70),
    });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
  });

  it('answers 503 to a status read', async () => {
    expect((await app.inject({ method: 'GET', url: `/verifications/${randomUUID()}` })).statusCode).toBe(503);
  });
});

describe('MESSAGGIO_WEBHOOK_SECRET config', () => {
  it('is optional', () => {
    expect(loadApiConfig({ NODE_ENV: 'test', OTP_DEBUG: 'true' }).webhooks).toEqual([]);
    expect(
      loadApiConfig({ NODE_ENV: 'test', OTP_DEBUG: 'true', MESSAGGIO_WEBHOOK_SECRET: SECRET }).webhooks.map(
        (h) => h.provider,
      ),
    ).toEqual(['messaggio']);
  });

  it.each([['short-secret'], ['has/a/slash/0123456789'], ['has spaces 0123456789']])(
    'refuses %s, naming the variable but not its value',
    (value) => {
      let error: unknown;
      try {
        loadApiConfig({ NODE_ENV: 'test', OTP_DEBUG: 'true', MESSAGGIO_WEBHOOK_SECRET: value });
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).message).toContain('MESSAGGIO_WEBHOOK_SECRET:');
      expect((error as ConfigError).message).not.toContain(value);
    },
  );
});
