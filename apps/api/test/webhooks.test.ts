import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { createLogger } from '@otp/core';
import type { WebhookHandler } from '@otp/sms';
import { computeTwilioSignature, withCallbackReference } from '@otp/twilio';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteKeys, testRedisUrl, uniquePrefix } from '../../../test/redis.js';
import { createApp } from '../src/app.js';
import { loadApiConfig } from '../src/config.js';
import { LogCapture } from './helper.js';

// A provider that signs its callbacks over the full URL and the form body, as Twilio does:
// the API mounts it like any other, and a forged callback changes nothing.
const TOKEN = 'acme-auth-token';
const PUBLIC = 'https://otp.example.com';
const sign = (url: string, body: string) =>
  createHmac('sha1', TOKEN)
    .update(url + body)
    .digest('base64');

const acme: WebhookHandler = {
  provider: 'acme',
  handle(request) {
    const given = Buffer.from(String(request.headers['x-acme-signature'] ?? ''));
    const expected = Buffer.from(sign(request.url, request.body));
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return { kind: 'refused', status: 403, reason: 'bad signature' };
    }
    const form = new URLSearchParams(request.body);
    const sid = form.get('MessageSid');
    if (!sid) return { kind: 'invalid', message: 'no MessageSid' };
    return {
      kind: 'reports',
      reports: [
        {
          provider: 'acme',
          providerMessageId: sid,
          status: form.get('MessageStatus') === 'delivered' ? 'delivered' : 'unknown',
          providerStatus: form.get('MessageStatus') ?? '',
        },
      ],
      answer: { status: 200, contentType: 'text/xml', body: '<Response/>' },
    };
  },
};

const prefix = uniquePrefix('webhooks');
let app: Awaited<ReturnType<typeof createApp>>;
let redis: Redis;
beforeAll(async () => {
  const config = loadApiConfig({
    NODE_ENV: 'test',
    REDIS_URL: testRedisUrl(),
    REDIS_KEY_PREFIX: prefix,
    QUEUE_NAME: prefix.replaceAll(':', '-').replace(/-$/, ''),
    PUBLIC_BASE_URL: `${PUBLIC}/`,
    OTP_DEBUG: 'true',
  });
  app = await createApp({
    config: { ...config, webhooks: [...config.webhooks, acme] },
    logger: createLogger({ service: 'otp-api', stream: new LogCapture() }),
  });
  await app.ready();
  redis = new Redis(testRedisUrl());
});
afterAll(async () => {
  await app?.close();
  await deleteKeys(redis, prefix, `bull:${prefix.replaceAll(':', '-').replace(/-$/, '')}:`);
  await redis.quit();
});

async function sentRecord() {
  const verificationId = randomUUID();
  const messageId = `SM${randomUUID().replaceAll('-', '')}`;
  await app.statusStore.queued({
    verificationId,
    phone: '+77088043414',
    country: 'KZ',
    expiresAt: Date.now() + 600_000,
  });
  await app.statusStore.sent({ verificationId, provider: 'acme', messageId, attempt: 1 });
  return { verificationId, messageId };
}

const post = (body: string, signature: string) =>
  app.inject({
    method: 'POST',
    url: '/webhooks/acme',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-acme-signature': signature },
    payload: body,
  });

describe('provider webhooks, mounted generically', () => {
  it('hands the raw form body and the public URL to the provider, applies its reports, answers its way', async () => {
    const { verificationId, messageId } = await sentRecord();
    const body = `MessageSid=${messageId}&MessageStatus=delivered`;
    const res = await post(body, sign(`${PUBLIC}/webhooks/acme`, body));
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/xml/);
    expect(res.body).toBe('<Response/>');
    expect((await app.statusStore.get(verificationId))?.status).toBe('delivered');
  });

  it('refuses a forged callback with 403 and changes nothing', async () => {
    const { verificationId, messageId } = await sentRecord();
    const body = `MessageSid=${messageId}&MessageStatus=delivered`;
    for (const signature of ['', 'forged', sign('https://evil.example.com/webhooks/acme', body)]) {
      const res = await post(body, signature);
      expect(res.statusCode).toBe(403);
      expect(res.json()).toMatchObject({ code: 'WEBHOOK_SIGNATURE_INVALID' });
    }
    expect((await app.statusStore.get(verificationId))?.status).toBe('sent');
  });

  it('answers 400 when the provider cannot read the body, and 404 for a provider not configured', async () => {
    const body = 'MessageStatus=delivered';
    expect((await post(body, sign(`${PUBLIC}/webhooks/acme`, body))).json()).toMatchObject({
      statusCode: 400,
      code: 'VALIDATION_ERROR',
    });
    const other = await app.inject({ method: 'POST', url: '/webhooks/twilio', payload: body });
    expect(other.statusCode).toBe(404);
  });
});

describe('POST /webhooks/twilio (TWILIO_AUTH_TOKEN and PUBLIC_BASE_URL set)', () => {
  const TWILIO_TOKEN = 'twilio-auth-token-0123456789';
  const CALLBACK = `${PUBLIC}/webhooks/twilio`;
  const twilioPrefix = uniquePrefix('webhooks-twilio');
  let twilioApp: Awaited<ReturnType<typeof createApp>>;
  beforeAll(async () => {
    twilioApp = await createApp({
      config: loadApiConfig({
        NODE_ENV: 'test',
        REDIS_URL: testRedisUrl(),
        REDIS_KEY_PREFIX: twilioPrefix,
        QUEUE_NAME: twilioPrefix.replaceAll(':', '-').replace(/-$/, ''),
        PUBLIC_BASE_URL: PUBLIC,
        TWILIO_AUTH_TOKEN: TWILIO_TOKEN,
        OTP_SECRET: 'ab'.repeat(32),
      }),
      logger: createLogger({ service: 'otp-api', stream: new LogCapture() }),
    });
    await twilioApp.ready();
  });
  afterAll(async () => {
    await twilioApp.close();
    await deleteKeys(redis, twilioPrefix, `bull:${twilioPrefix.replaceAll(':', '-').replace(/-$/, '')}:`);
  });

  const form = (messageSid: string, status: string) =>
    new URLSearchParams({
      SmsSid: messageSid,
      SmsStatus: status,
      MessageStatus: status,
      To: '+77088043414',
      MessageSid: messageSid,
      AccountSid: `AC${'0'.repeat(32)}`,
      From: '+15017122661',
      ApiVersion: '2010-04-01',
    }).toString();
  const callback = (url: string, body: string, signature?: string) =>
    twilioApp.inject({
      method: 'POST',
      url: url.slice(PUBLIC.length),
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        ...(signature === undefined ? {} : { 'x-twilio-signature': signature }),
      },
      payload: body,
    });
  async function record(stage: 'sending' | 'sent') {
    const verificationId = randomUUID();
    const messageId = `SM${randomUUID().replaceAll('-', '')}`;
    const store = twilioApp.statusStore;
    await store.queued({
      verificationId,
      phone: '+77088043414',
      country: 'KZ',
      expiresAt: Date.now() + 600_000,
    });
    await store.sending({ verificationId, attempt: 1 });
    if (stage === 'sent') await store.sent({ verificationId, provider: 'twilio', messageId, attempt: 1 });
    return { verificationId, messageId };
  }

  it('applies a signed status callback and answers Twilio 200 with empty TwiML', async () => {
    const { verificationId, messageId } = await record('sent');
    const url = withCallbackReference(CALLBACK, verificationId);
    const body = form(messageId, 'delivered');
    const res = await callback(url, body, computeTwilioSignature(TWILIO_TOKEN, url, body));
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/xml/);
    expect(res.body).toBe('<Response/>');
    expect(await twilioApp.statusStore.get(verificationId)).toMatchObject({
      status: 'delivered',
      provider: 'twilio',
      providerMessageId: messageId,
    });
  });

  it('refuses a forged or missing signature with 403 and changes nothing', async () => {
    const { verificationId, messageId } = await record('sent');
    const url = withCallbackReference(CALLBACK, verificationId);
    const body = form(messageId, 'delivered');
    for (const signature of [
      undefined,
      'forged',
      computeTwilioSignature('another-token-0123456789', url, body),
      computeTwilioSignature(TWILIO_TOKEN, 'https://evil.example.com/webhooks/twilio', body),
      // Signed, but for another status: a replay with the status changed.
      computeTwilioSignature(TWILIO_TOKEN, url, form(messageId, 'undelivered')),
    ]) {
      const res = await callback(url, body, signature);
      expect(res.statusCode).toBe(403);
      expect(res.json()).toMatchObject({ code: 'WEBHOOK_SIGNATURE_INVALID' });
    }
    expect((await twilioApp.statusStore.get(verificationId))?.status).toBe('sent');
  });

  it('keeps a delivered report that beats the worker recording the message id', async () => {
    // Twilio answered the send, but the worker has not stored twilio:SM… yet.
    const { verificationId, messageId } = await record('sending');
    const url = withCallbackReference(CALLBACK, verificationId);
    for (const status of ['sent', 'delivered']) {
      const body = form(messageId, status);
      const res = await callback(url, body, computeTwilioSignature(TWILIO_TOKEN, url, body));
      expect(res.statusCode).toBe(200);
    }
    expect((await twilioApp.statusStore.get(verificationId))?.status).toBe('delivered');
    // The worker's record of the send lands late: it does not step the status back.
    await twilioApp.statusStore.sent({ verificationId, provider: 'twilio', messageId, attempt: 1 });
    expect(await twilioApp.statusStore.get(verificationId)).toMatchObject({
      status: 'delivered',
      provider: 'twilio',
      providerMessageId: messageId,
    });
  });

  it('accepts form bodies only on the webhook: /send-otp/ still answers 415', async () => {
    const res = await twilioApp.inject({
      method: 'POST',
      url: '/send-otp/',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'phone_number=%2B77088043414',
    });
    expect(res.statusCode).toBe(415);
    expect(res.json()).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE' });
  });
});
