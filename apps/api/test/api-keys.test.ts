import { createHash } from 'node:crypto';
import { createLogger } from '@otp/core';
import Fastify, { type FastifyRequest } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteKeys, testRedisUrl, uniquePrefix } from '../../../test/redis.js';
import { parseApiKeys } from '../src/auth/api-keys.js';
import apiKeys from '../src/plugins/api-keys.js';
import errorHandler from '../src/plugins/error-handler.js';
import idempotency from '../src/plugins/idempotency.js';
import redisPlugin from '../src/plugins/redis.js';
import { buildTestApi, freshPhone, LogCapture, type TestApi } from './helper.js';

const sha = (key: string) => createHash('sha256').update(key).digest('hex');
const MOBILE_KEY = 'mobile-key-0123456789abcdef';
const BACKEND_KEY = 'backend-key-0123456789abcdef';

describe('API keys on the OTP routes', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await buildTestApi({ API_KEYS: `mobile:${sha(MOBILE_KEY)},backend:${sha(BACKEND_KEY)}:100` });
  });
  afterAll(async () => {
    await api.close();
  });

  const send = (headers: Record<string, string>) =>
    api.app.inject({ method: 'POST', url: '/send-otp/', headers, payload: { phone_number: freshPhone() } });

  it.each([
    ['no key', {}],
    ['a wrong bearer key', { authorization: 'Bearer not-a-key' }],
    ['a wrong X-API-Key', { 'x-api-key': 'not-a-key' }],
    ['the hash instead of the key', { authorization: `Bearer ${sha(MOBILE_KEY)}` }],
    ['Basic auth', { authorization: `Basic ${Buffer.from(`u:${MOBILE_KEY}`).toString('base64')}` }],
  ])('refuses %s with 401 UNAUTHORIZED', async (_label, headers) => {
    const res = await send(headers);
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ code: 'UNAUTHORIZED' });
    expect(res.headers['www-authenticate']).toBe('Bearer');
  });

  it.each([
    ['Authorization: Bearer', { authorization: `Bearer ${MOBILE_KEY}` }],
    ['X-API-Key', { 'x-api-key': BACKEND_KEY }],
  ])('accepts a right key in %s', async (_label, headers) => {
    expect((await send(headers)).statusCode).toBe(200);
  });

  it('protects verify too, and checks the key before the body', async () => {
    const res = await api.app.inject({ method: 'POST', url: '/verify-otp/', payload: { nonsense: true } });
    expect(res.statusCode).toBe(401);
  });

  it('never logs the presented key', () => {
    expect(api.logs.text).not.toContain(MOBILE_KEY);
    expect(api.logs.text).not.toContain(BACKEND_KEY);
    expect(api.logs.text).not.toContain('not-a-key');
  });
});

/** Fastify with the error handler, Redis and the API-key plugin; `routes` adds the rest. */
async function keyedApp(
  options: Parameters<typeof apiKeys>[1],
  routes: (app: ReturnType<typeof Fastify>) => Promise<void>,
) {
  const app = Fastify({ loggerInstance: createLogger({ service: 'test', stream: new LogCapture() }) });
  await app.register(errorHandler);
  await app.register(redisPlugin, { url: testRedisUrl(), commandTimeoutMs: 2000 });
  await app.register(apiKeys, options);
  await routes(app);
  await app.ready();
  return app;
}

describe('per-key quota', () => {
  const prefix = uniquePrefix('quota');
  // The quota's own clock, at the start of a 1 s window; the test moves it.
  let clock = 1_700_000_000_000;
  let app: ReturnType<typeof Fastify>;
  let redis: Redis;

  beforeAll(async () => {
    redis = new Redis(testRedisUrl());
    app = await keyedApp(
      {
        keys: parseApiKeys(`limited:${sha('limited-key')}:3,free:${sha('free-key')}`),
        keyPrefix: prefix,
        quotaWindowMs: 1000,
        now: () => clock,
      },
      async (keyed) => {
        keyed.get('/probe', { onRequest: keyed.apiKeyAuth }, async (request: FastifyRequest) => ({
          key: request.apiKey?.name,
        }));
      },
    );
  });
  afterAll(async () => {
    await app.close();
    await deleteKeys(redis, prefix);
    await redis.quit();
  });

  const probe = (key: string) => app.inject({ method: 'GET', url: '/probe', headers: { 'x-api-key': key } });

  it('allows up to the quota, refuses after it with Retry-After, allows again in the next window', async () => {
    for (let i = 0; i < 3; i++) expect((await probe('limited-key')).json()).toEqual({ key: 'limited' });
    const refused = await probe('limited-key');
    expect(refused.statusCode).toBe(429);
    expect(refused.json()).toMatchObject({ code: 'API_KEY_QUOTA_EXCEEDED', retry_after: 1 });
    expect(refused.headers['retry-after']).toBe('1');
    clock += 1000;
    expect((await probe('limited-key')).statusCode).toBe(200);
  });

  it('does not limit a key without a quota', async () => {
    for (let i = 0; i < 10; i++) expect((await probe('free-key')).statusCode).toBe(200);
  });
});

describe('a quota checked beside the Idempotency-Key claim (deferApiKeyQuota)', () => {
  const prefix = uniquePrefix('quota-deferred');
  let app: ReturnType<typeof Fastify>;
  let redis: Redis;

  beforeAll(async () => {
    redis = new Redis(testRedisUrl());
    app = await keyedApp(
      {
        keys: parseApiKeys(`once:${sha('once-key')}:1`),
        keyPrefix: prefix,
        // A fixed clock: the requests below fall in one window whenever the test runs.
        quotaWindowMs: 3_600_000,
        now: () => 1_700_000_000_000,
      },
      async (keyed) => {
        await keyed.register(idempotency, { keyPrefix: prefix });
        keyed.post(
          '/probe',
          { onRequest: keyed.apiKeyAuth, preHandler: keyed.idempotency, config: { deferApiKeyQuota: true } },
          async () => ({ ok: true }),
        );
      },
    );
  });
  afterAll(async () => {
    await app.close();
    await deleteKeys(redis, prefix);
    await redis.quit();
  });

  const post = (idempotencyKey?: string) =>
    app.inject({
      method: 'POST',
      url: '/probe',
      headers: {
        'x-api-key': 'once-key',
        ...(idempotencyKey === undefined ? {} : { 'idempotency-key': idempotencyKey }),
      },
      payload: {},
    });

  it('refuses over the quota with or without a key, and releases the claim of a refused request', async () => {
    expect((await post('first')).statusCode).toBe(200);
    const refused = await post('second');
    expect(refused.statusCode).toBe(429);
    expect(refused.json()).toMatchObject({ code: 'API_KEY_QUOTA_EXCEEDED' });
    expect((await post()).statusCode).toBe(429);
    // Only the first request's answer is kept; the refused one left no claim behind.
    const [, claims] = await redis.scan('0', 'MATCH', `${prefix}idem:*`, 'COUNT', 1000);
    expect(claims).toHaveLength(1);
  });
});
