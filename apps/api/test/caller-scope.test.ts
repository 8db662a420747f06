import { createHash } from 'node:crypto';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { deleteKeys, testRedisUrl, uniquePrefix } from '../../../test/redis.js';
import idempotency from '../src/plugins/idempotency.js';
import redisPlugin from '../src/plugins/redis.js';
import { buildTestApi, freshPhone, type TestApi } from './helper.js';

// Issue 8, item 9: what one caller did is not readable or replayable by another.
let api: TestApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

const sha = (value: string) => createHash('sha256').update(value).digest('hex');
const KEY_A = 'caller-scope-key-a-0123456789';
const KEY_B = 'caller-scope-key-b-0123456789';

describe('GET /verifications/:id', () => {
  it('answers 404 to another API key, as for an id that does not exist', async () => {
    api = await buildTestApi({
      API_KEYS: `a:${sha(KEY_A)},b:${sha(KEY_B)}`,
      OTP_RESEND_COOLDOWN_SECONDS: '0',
    });
    const sent = await api.app.inject({
      method: 'POST',
      url: '/send-otp/',
      headers: { 'x-api-key': KEY_A },
      payload: { phone_number: freshPhone() },
    });
    const id = sent.json().verification_id as string;
    const read = (key: string) =>
      api?.app.inject({ method: 'GET', url: `/verifications/${id}`, headers: { 'x-api-key': key } });
    expect((await read(KEY_A))?.statusCode).toBe(200);
    const other = await read(KEY_B);
    expect(other?.statusCode).toBe(404);
    expect(other?.json()).toMatchObject({ code: 'VERIFICATION_NOT_FOUND' });
  });
});

describe('Idempotency-Key replays', () => {
  it('are not shared between anonymous callers on different addresses', async () => {
    api = await buildTestApi({ TRUST_PROXY: 'true', OTP_RESEND_COOLDOWN_SECONDS: '0' });
    const phone = freshPhone();
    const sendFrom = (ip: string) =>
      api?.app.inject({
        method: 'POST',
        url: '/send-otp/',
        headers: { 'x-forwarded-for': ip, 'idempotency-key': 'shared-key-123' },
        payload: { phone_number: phone },
      });
    const first = await sendFrom('198.51.100.1');
    const replay = await sendFrom('198.51.100.1');
    expect(replay?.headers['idempotent-replayed']).toBe('true');
    expect(replay?.json().verification_id).toBe(first?.json().verification_id);
    const stranger = await sendFrom('203.0.113.5');
    expect(stranger?.statusCode).toBe(200);
    expect(stranger?.headers['idempotent-replayed']).toBeUndefined();
    // A send of its own, not the first answer replayed: with the code still live it is a
    // resend of it (same code on resend), which a replay of the first answer would not say.
    expect(stranger?.json().resent).toBe(true);
    expect(first?.json().resent).toBe(false);
  });

  it('keep a pending claim about a minute, not 24 hours', async () => {
    const prefix = uniquePrefix('idem');
    const app = Fastify();
    app.decorateRequest('clientAddress', '127.0.0.1');
    app.decorateRequest('apiKey', null);
    await app.register(redisPlugin, { url: testRedisUrl(), commandTimeoutMs: 2000 });
    await app.register(idempotency, { keyPrefix: prefix });
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let entered: () => void = () => {};
    const inHandler = new Promise<void>((resolve) => {
      entered = resolve;
    });
    app.post('/slow', { preHandler: app.idempotency }, async () => {
      entered();
      await gate;
      return { ok: true };
    });
    try {
      const pending = app.inject({
        method: 'POST',
        url: '/slow',
        headers: { 'idempotency-key': 'k1' },
        payload: {},
      });
      await inHandler;
      const [key] = await app.redis.keys(`${prefix}idem:*`);
      const ttl = await app.redis.ttl(key ?? '');
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(60);
      release();
      expect((await pending).statusCode).toBe(200);
      // The answer itself is replayed for 24 h.
      expect(await app.redis.ttl(key ?? '')).toBeGreaterThan(86_000);
    } finally {
      release();
      await deleteKeys(app.redis, prefix);
      await app.close();
    }
  });
});
