import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { createLogger } from '@otp/core';
import type { WebhookHandler } from '@otp/sms';
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
  });
  app = await createApp({
    config: { ...config, webhooks: [...config.webhooks, acme] },
    logger: createLogger({ service: 'otp-api', stream: new LogCapture() }),
  });
  await app.ready();
  redis = new Redis(testRedisUrl());
});
afterAll(async () => {
  await app.close();
  await deleteKeys(redis, prefix);
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
