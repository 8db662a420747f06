import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@otp/core';
import {
  calculateJwkThumbprint,
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  exportJWK,
  jwtVerify,
  SignJWT,
} from 'jose';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { deleteKeys, testRedisUrl, uniquePrefix } from '../../../test/redis.js';
import { loadApiConfig } from '../src/config.js';
import { buildTestApi, freshPhone, type TestApi } from './helper.js';

const open: TestApi[] = [];
const prefixes: string[] = [];
async function start(env: Record<string, string> = {}, clock?: () => number): Promise<TestApi> {
  const api = await buildTestApi(env, clock ? { clock } : {});
  open.push(api);
  return api;
}
/** A Redis key prefix several app instances share (as the API processes of one deployment do). */
function sharedPrefix(): string {
  const prefix = uniquePrefix('vtoken');
  prefixes.push(prefix);
  return prefix;
}
afterEach(async () => {
  const apis = open.splice(0);
  const [first] = apis;
  for (const prefix of prefixes.splice(0)) if (first) await deleteKeys(first.redis, prefix);
  await Promise.all(apis.map((api) => api.close()));
});

function pem(type: 'ed25519' | 'p256'): {
  privatePem: string;
  publicKey: ReturnType<typeof generateKeyPairSync>['publicKey'];
} {
  const pair =
    type === 'ed25519'
      ? generateKeyPairSync('ed25519')
      : generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    privatePem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKey: pair.publicKey,
  };
}

/** Sends a code and verifies it; returns the verify answer and the send's verification id. */
async function verifiedToken(api: TestApi, headers: Record<string, string> = {}) {
  const phone = freshPhone();
  const sent = await api.app.inject({ method: 'POST', url: '/send-otp/', payload: { phone_number: phone } });
  expect(sent.statusCode).toBe(200);
  const { verification_id, debug_code } = sent.json() as { verification_id: string; debug_code: string };
  const res = await api.app.inject({
    method: 'POST',
    url: '/verify-otp/',
    headers,
    payload: { phone_number: phone, code: debug_code },
  });
  expect(res.statusCode).toBe(200);
  const body = res.json() as { verification_token: string; phone_number: string };
  expect(typeof body.verification_token).toBe('string');
  return { phone, verificationId: verification_id, token: body.verification_token, res };
}

async function jwksOf(api: TestApi) {
  const res = await api.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
  expect(res.statusCode).toBe(200);
  return res.json() as { keys: { kid: string; alg: string; kty: string }[] };
}

describe('verification_token', () => {
  it('verifies with the published JWKS and carries the claims', async () => {
    const api = await start();
    const { phone, verificationId, token, res } = await verifiedToken(api);
    const jwks = await jwksOf(api);
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
    expect(jwks.keys[0]).not.toHaveProperty('d');
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks as never), {
      issuer: 'otp-service',
      audience: 'otp-service-clients',
    });
    expect(protectedHeader).toMatchObject({ alg: 'EdDSA', kid: jwks.keys[0]?.kid, typ: 'JWT' });
    expect(payload).toMatchObject({
      sub: phone,
      phone_number_verified: true,
      verification_id: verificationId,
      jti: verificationId,
    });
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(300);
    // Old clients see the same answer with one more field.
    expect(res.json()).toEqual({
      message: 'Код подтвержден',
      phone_number: phone,
      verified: true,
      verification_token: token,
    });
  });

  it('uses the configured issuer, audience and lifetime, and expires by the clock', async () => {
    const now = Date.UTC(2026, 0, 1, 12);
    const api = await start(
      {
        VERIFICATION_TOKEN_ISSUER: 'https://otp.example.com',
        VERIFICATION_TOKEN_AUDIENCE: 'shop-backend',
        VERIFICATION_TOKEN_TTL_SECONDS: '60',
      },
      () => now,
    );
    const { token } = await verifiedToken(api);
    const keys = createLocalJWKSet((await jwksOf(api)) as never);
    const expected = { issuer: 'https://otp.example.com', audience: 'shop-backend' };
    const { payload } = await jwtVerify(token, keys, { ...expected, currentDate: new Date(now + 59_000) });
    expect(payload.iat).toBe(now / 1000);
    expect(payload.exp).toBe(now / 1000 + 60);
    await expect(
      jwtVerify(token, keys, { ...expected, currentDate: new Date(now + 61_000) }),
    ).rejects.toMatchObject({
      code: 'ERR_JWT_EXPIRED',
    });
    await expect(
      jwtVerify(token, keys, { issuer: 'otp-service', currentDate: new Date(now) }),
    ).rejects.toMatchObject({
      code: 'ERR_JWT_CLAIM_VALIDATION_FAILED',
    });
  });

  it('is refused when signed by another key, even under the published kid', async () => {
    const api = await start();
    const { token } = await verifiedToken(api);
    const jwks = await jwksOf(api);
    const { payload } = await jwtVerify(token, createLocalJWKSet(jwks as never));
    const { privateKey } = generateKeyPairSync('ed25519');
    const forged = await new SignJWT(payload)
      .setProtectedHeader({ alg: 'EdDSA', kid: decodeProtectedHeader(token).kid as string })
      .sign(privateKey);
    await expect(jwtVerify(forged, createLocalJWKSet(jwks as never))).rejects.toMatchObject({
      code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
    });
  });

  it('replays the same body, token included, for an Idempotency-Key retry', async () => {
    const api = await start();
    const phone = freshPhone();
    const sent = await api.app.inject({
      method: 'POST',
      url: '/send-otp/',
      payload: { phone_number: phone },
    });
    const payload = { phone_number: phone, code: (sent.json() as { debug_code: string }).debug_code };
    const headers = { 'idempotency-key': 'verify-token-replay-1' };
    const first = await api.app.inject({ method: 'POST', url: '/verify-otp/', headers, payload });
    const again = await api.app.inject({ method: 'POST', url: '/verify-otp/', headers, payload });
    expect(first.statusCode).toBe(200);
    expect(again.statusCode).toBe(200);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toBe(first.body);
    expect(first.json()).toHaveProperty('verification_token');
  });
});

describe('the generated signing key', () => {
  it('is one key for every app instance on one Redis prefix, stored sealed', async () => {
    const prefix = sharedPrefix();
    // Started together: SET NX decides whose key all of them use.
    const [a, b] = await Promise.all([
      start({ REDIS_KEY_PREFIX: prefix }),
      start({ REDIS_KEY_PREFIX: prefix }),
    ]);
    if (!a || !b) throw new Error('unreachable');
    const [jwksA, jwksB] = await Promise.all([jwksOf(a), jwksOf(b)]);
    expect(jwksA.keys).toHaveLength(1);
    expect(jwksB).toEqual(jwksA);
    const { token } = await verifiedToken(b);
    await expect(jwtVerify(token, createLocalJWKSet(jwksA as never))).resolves.toBeTruthy();
    const stored = await a.redis.get(`${prefix}vtoken:key`);
    expect(stored).toBeTruthy();
    expect(stored).not.toMatch(/PRIVATE KEY|MC4CAQAwBQYDK2Vw/);
    // A later instance (a restart) keeps it.
    const c = await start({ REDIS_KEY_PREFIX: prefix });
    expect(await jwksOf(c)).toEqual(jwksA);
  });

  it('is replaced (and the old one kept for a TTL) when OTP_SECRET changed without the previous one', async () => {
    const prefix = sharedPrefix();
    const a = await start({ REDIS_KEY_PREFIX: prefix });
    const before = await jwksOf(a);
    const b = await start({ REDIS_KEY_PREFIX: prefix, OTP_SECRET: 'another-secret-0123456789abcdef012345' });
    const after = await jwksOf(b);
    expect(after.keys.map((k) => k.kid)).toContain(before.keys[0]?.kid);
    expect(after.keys).toHaveLength(2);
    // With OTP_SECRET_PREVIOUS the stored key still opens: no new key.
    const c = await start({
      REDIS_KEY_PREFIX: prefix,
      OTP_SECRET: 'a-third-secret-0123456789abcdef0123456',
      OTP_SECRET_PREVIOUS: 'another-secret-0123456789abcdef012345',
    });
    expect((await jwksOf(c)).keys).toHaveLength(2);
  });
});

describe('a configured signing key', () => {
  it('signs with the PEM from VERIFICATION_TOKEN_PRIVATE_KEY (Ed25519)', async () => {
    const { privatePem, publicKey } = pem('ed25519');
    const api = await start({ VERIFICATION_TOKEN_PRIVATE_KEY: privatePem });
    const { token } = await verifiedToken(api);
    const kid = await calculateJwkThumbprint(await exportJWK(publicKey));
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'EdDSA', kid });
    await expect(jwtVerify(token, publicKey)).resolves.toBeTruthy();
    expect((await jwksOf(api)).keys.map((k) => k.kid)).toEqual([kid]);
  });

  it('signs ES256 with a P-256 key from VERIFICATION_TOKEN_PRIVATE_KEY_FILE', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vtoken-'));
    try {
      const { privatePem, publicKey } = pem('p256');
      const file = join(dir, 'key.pem');
      writeFileSync(file, privatePem);
      const api = await start({ VERIFICATION_TOKEN_PRIVATE_KEY_FILE: file });
      const { token } = await verifiedToken(api);
      expect(decodeProtectedHeader(token).alg).toBe('ES256');
      await expect(jwtVerify(token, publicKey)).resolves.toBeTruthy();
      await expect(jwtVerify(token, createLocalJWKSet((await jwksOf(api)) as never))).resolves.toBeTruthy();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps the previous public key in the JWKS for one token TTL after a change', async () => {
    const prefix = sharedPrefix();
    let now = Date.now();
    const clock = () => now;
    const env = { REDIS_KEY_PREFIX: prefix, VERIFICATION_TOKEN_TTL_SECONDS: '60' };
    const first = await start({ ...env, VERIFICATION_TOKEN_PRIVATE_KEY: pem('ed25519').privatePem }, clock);
    const { token: oldToken } = await verifiedToken(first);
    const oldKid = decodeProtectedHeader(oldToken).kid;

    const second = await start({ ...env, VERIFICATION_TOKEN_PRIVATE_KEY: pem('ed25519').privatePem }, clock);
    const { token: newToken } = await verifiedToken(second);
    const newKid = decodeProtectedHeader(newToken).kid;
    expect(newKid).not.toBe(oldKid);
    const during = await jwksOf(second);
    expect(during.keys.map((k) => k.kid).sort()).toEqual([oldKid, newKid].sort());
    const keys = createLocalJWKSet(during as never);
    await expect(jwtVerify(oldToken, keys, { currentDate: new Date(now) })).resolves.toBeTruthy();
    await expect(jwtVerify(newToken, keys, { currentDate: new Date(now) })).resolves.toBeTruthy();

    // One TTL later the old key is gone (only this instance is left; the first stopped).
    const [stopped] = open.splice(open.indexOf(first), 1);
    await stopped?.close();
    now += 61_000;
    expect((await jwksOf(second)).keys.map((k) => k.kid)).toEqual([newKid]);
  });
});

describe('signing-key configuration', () => {
  const base = { NODE_ENV: 'test', REDIS_URL: testRedisUrl(), OTP_DEBUG: 'true' };
  it.each([
    [
      { VERIFICATION_TOKEN_PRIVATE_KEY: 'not a key' },
      /VERIFICATION_TOKEN_PRIVATE_KEY: is not a PEM private key/,
    ],
    [
      {
        VERIFICATION_TOKEN_PRIVATE_KEY: generateKeyPairSync('rsa', { modulusLength: 1024 })
          .privateKey.export({ type: 'pkcs8', format: 'pem' })
          .toString(),
      },
      /Ed25519 or P-256/,
    ],
    [
      { VERIFICATION_TOKEN_PRIVATE_KEY_FILE: '/nonexistent/key.pem' },
      /VERIFICATION_TOKEN_PRIVATE_KEY_FILE: cannot read \/nonexistent\/key.pem \(ENOENT\)/,
    ],
    [
      { VERIFICATION_TOKEN_PRIVATE_KEY: 'x', VERIFICATION_TOKEN_PRIVATE_KEY_FILE: '/k.pem' },
      /set one, not both/,
    ],
    [{ VERIFICATION_TOKEN_TTL_SECONDS: '0' }, /VERIFICATION_TOKEN_TTL_SECONDS/],
  ])('refuses %j', (env, message) => {
    expect(() => loadApiConfig({ ...base, ...env })).toThrow(ConfigError);
    expect(() => loadApiConfig({ ...base, ...env })).toThrow(message);
  });

  it('accepts a one-line PEM with literal \\n', () => {
    const oneLine = pem('ed25519').privatePem.replaceAll('\n', '\\n');
    expect(
      loadApiConfig({ ...base, VERIFICATION_TOKEN_PRIVATE_KEY: oneLine }).verificationToken.signingKey?.alg,
    ).toBe('EdDSA');
  });
});

afterAll(async () => {
  await Promise.all(open.splice(0).map((api) => api.close()));
});

describe('purpose', () => {
  async function sendFor(api: TestApi, phone: string, purpose?: string) {
    const res = await api.app.inject({
      method: 'POST',
      url: '/send-otp/',
      payload: { phone_number: phone, ...(purpose === undefined ? {} : { purpose }) },
    });
    expect(res.statusCode).toBe(200);
    return (res.json() as { debug_code: string }).debug_code;
  }
  const verify = (api: TestApi, phone: string, code: string, purpose?: string) =>
    api.app.inject({
      method: 'POST',
      url: '/verify-otp/',
      payload: { phone_number: phone, code, ...(purpose === undefined ? {} : { purpose }) },
    });

  it('a code sent for one purpose verifies only for it, and the token carries it', async () => {
    const api = await start();
    const phone = freshPhone();
    const code = await sendFor(api, phone, 'reset');
    const wrong = await verify(api, phone, code, 'login');
    expect(wrong.statusCode).toBe(400);
    expect(wrong.json()).toMatchObject({ code: 'OTP_INVALID' });
    expect((await verify(api, phone, code)).json()).toMatchObject({ code: 'OTP_INVALID' });
    const ok = await verify(api, phone, code, 'reset');
    expect(ok.statusCode).toBe(200);
    const { payload } = await jwtVerify(
      (ok.json() as { verification_token: string }).verification_token,
      createLocalJWKSet((await jwksOf(api)) as never),
    );
    expect(payload.purpose).toBe('reset');
  });

  it('a code sent without a purpose does not verify for one, and its token has none', async () => {
    const api = await start();
    const phone = freshPhone();
    const code = await sendFor(api, phone);
    expect((await verify(api, phone, code, 'login')).json()).toMatchObject({ code: 'OTP_INVALID' });
    const ok = await verify(api, phone, code);
    expect(ok.statusCode).toBe(200);
    expect(decodeJwt((ok.json() as { verification_token: string }).verification_token)).not.toHaveProperty(
      'purpose',
    );
  });

  it('refuses a purpose outside OTP_PURPOSES with 400 VALIDATION_ERROR, spending nothing', async () => {
    const api = await start({ OTP_PURPOSES: 'login,checkout' });
    const phone = freshPhone();
    const res = await api.app.inject({
      method: 'POST',
      url: '/send-otp/',
      payload: { phone_number: phone, purpose: 'reset' },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({
      code: 'VALIDATION_ERROR',
      message: expect.stringContaining('login, checkout'),
    });
    expect(await sendFor(api, phone, 'checkout')).toMatch(/^\d{6}$/);
    const bad = await api.app.inject({
      method: 'POST',
      url: '/send-otp/',
      payload: { phone_number: phone, purpose: 'Not Valid!' },
    });
    expect(bad.statusCode).toBe(400);
  });

  it('OTP_PURPOSES names a bad entry', () => {
    expect(() =>
      loadApiConfig({
        NODE_ENV: 'test',
        REDIS_URL: testRedisUrl(),
        OTP_DEBUG: 'true',
        OTP_PURPOSES: 'login,Bad One',
      }),
    ).toThrow(/OTP_PURPOSES: .*Bad One/);
  });
});
