import { ConfigError } from '@otp/core';
import { describe, expect, it } from 'vitest';
import { loadWorkerConfig } from './config.js';

const base = {
  NODE_ENV: 'test',
  MESSAGGIO_API_KEY: 'login',
  MESSAGGIO_SENDER: 'OTPTEST',
  OTP_SECRET: 'worker-test-secret-0123456789abcdef0123456789',
};
const SECRET = 'webhook-secret-0123456789abcdefghijkl';

describe('worker config: delivery report callback', () => {
  it('asks for reports at PUBLIC_BASE_URL when the webhook secret is set too', () => {
    const config = loadWorkerConfig({
      ...base,
      PUBLIC_BASE_URL: 'https://otp.example.com/',
      MESSAGGIO_WEBHOOK_SECRET: SECRET,
    });
    expect(config.messaggio?.dlrCallbackUrl).toBe(`https://otp.example.com/webhooks/messaggio/${SECRET}`);
  });

  it.each([
    ['only PUBLIC_BASE_URL', { PUBLIC_BASE_URL: 'https://otp.example.com' }],
    ['only the secret', { MESSAGGIO_WEBHOOK_SECRET: SECRET }],
    ['neither', {}],
  ])('asks for none with %s', (_label, env) => {
    expect(loadWorkerConfig({ ...base, ...env }).messaggio?.dlrCallbackUrl).toBeUndefined();
  });

  it.each([
    ['PUBLIC_BASE_URL', 'otp.example.com'],
    ['PUBLIC_BASE_URL', 'ftp://otp.example.com'],
    ['MESSAGGIO_WEBHOOK_SECRET', 'short'],
    ['MESSAGGIO_WEBHOOK_SECRET', 'has/a/slash/0123456789'],
  ])('refuses a bad %s (%s), naming it', (name, value) => {
    let error: unknown;
    try {
      loadWorkerConfig({ ...base, [name]: value });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const { message } = error as ConfigError;
    expect(message).toContain(`${name}:`);
    // A secret's value never appears in the message.
    if (name === 'MESSAGGIO_WEBHOOK_SECRET') expect(message).not.toContain(value);
  });
});

describe('worker config: the provider chain', () => {
  it('defaults to messaggio, failing over after 2 tries, a 30 s cool-down', () => {
    const config = loadWorkerConfig(base);
    expect(config).toMatchObject({
      debugMode: false,
      providers: ['messaggio'],
      failoverAfter: 2,
      breaker: { failureThreshold: 5, cooldownMs: 30_000 },
    });
  });

  it('is the debug provider alone with OTP_DEBUG=true', () => {
    expect(loadWorkerConfig({ NODE_ENV: 'test', OTP_DEBUG: 'true' })).toMatchObject({
      debugMode: true,
      providers: ['debug'],
    });
  });

  it.each([
    ['an unknown provider', { SMS_PROVIDERS: 'messaggio,carrier-pigeon' }, 'SMS_PROVIDERS:'],
    ['a provider twice', { SMS_PROVIDERS: 'messaggio,messaggio' }, 'SMS_PROVIDERS:'],
    ['no provider', { SMS_PROVIDERS: ' , ' }, 'SMS_PROVIDERS:'],
    ['a failover of 0', { SMS_FAILOVER_AFTER: '0' }, 'SMS_FAILOVER_AFTER:'],
    ['a cool-down of 0', { SMS_BREAKER_COOLDOWN_MS: '0' }, 'SMS_BREAKER_COOLDOWN_MS:'],
  ])('refuses %s, naming the variable', (_label, env, name) => {
    expect(() => loadWorkerConfig({ ...base, ...env })).toThrow(name);
  });

  it('refuses OTP_DEBUG=false with no provider credentials, naming what to set', () => {
    expect(() => loadWorkerConfig({ NODE_ENV: 'test', OTP_DEBUG: 'false' })).toThrow(
      /OTP_DEBUG: no SMS provider is configured; set MESSAGGIO_API_KEY and MESSAGGIO_SENDER/,
    );
  });
});

describe('worker config: errors', () => {
  it('names every bad variable in one round: a bad number does not hide a missing sender', () => {
    let message = '';
    try {
      loadWorkerConfig({ NODE_ENV: 'test', MESSAGGIO_API_KEY: 'login', WORKER_CONCURRENCY: 'abc' });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      message = err.message;
    }
    expect(message).toMatch(/WORKER_CONCURRENCY:/);
    expect(message).toMatch(/MESSAGGIO_SENDER: is required/);
  });
});

describe('worker config: stall detection', () => {
  it('brings a dead worker’s jobs back in seconds by default, not BullMQ’s minute', () => {
    expect(loadWorkerConfig(base).stalled).toEqual({
      lockDurationMs: 5000,
      stalledIntervalMs: 2500,
      maxStalledCount: 2,
    });
  });

  it('takes each from its variable, naming a bad one', () => {
    const config = loadWorkerConfig({
      ...base,
      WORKER_LOCK_DURATION_MS: '8000',
      WORKER_STALLED_INTERVAL_MS: '4000',
      WORKER_MAX_STALLED_COUNT: '1',
    });
    expect(config.stalled).toEqual({ lockDurationMs: 8000, stalledIntervalMs: 4000, maxStalledCount: 1 });
    expect(() => loadWorkerConfig({ ...base, WORKER_LOCK_DURATION_MS: '10' })).toThrow(
      /WORKER_LOCK_DURATION_MS/,
    );
  });
});

describe('worker config: debug mode and fallback are explicit opt-ins', () => {
  const problems = (env: Record<string, string>) => {
    try {
      loadWorkerConfig(env);
    } catch (err) {
      if (err instanceof ConfigError) return err.message;
      throw err;
    }
    throw new Error('expected a ConfigError');
  };

  it('refuses to start with no provider and OTP_DEBUG off, naming the variables to set', () => {
    expect(problems({ NODE_ENV: 'development' })).toMatch(
      /OTP_DEBUG: no SMS provider is configured; set MESSAGGIO_API_KEY.*OTP_DEBUG=true/,
    );
  });

  it('runs in debug mode only with OTP_DEBUG=true, and never with a provider key', () => {
    expect(loadWorkerConfig({ OTP_DEBUG: 'true' })).toMatchObject({ debugMode: true, messaggio: undefined });
    expect(problems({ ...base, OTP_DEBUG: 'true' })).toMatch(
      /OTP_DEBUG: must be off when an SMS provider is configured/,
    );
  });

  it('refuses the built-in secret next to a provider key', () => {
    const { OTP_SECRET: _unset, ...noSecret } = base;
    expect(problems(noSecret)).toMatch(/OTP_SECRET: is required when SMS provider credentials are set/);
  });

  it('keeps OTP_DEBUG_FALLBACK off unless asked, and refuses it in production', () => {
    expect(loadWorkerConfig(base).debugFallback).toBe(false);
    expect(loadWorkerConfig({ ...base, OTP_DEBUG_FALLBACK: 'true' }).debugFallback).toBe(true);
    expect(
      problems({ ...base, NODE_ENV: 'production', OTP_SECRET: 'ab'.repeat(32), OTP_DEBUG_FALLBACK: 'true' }),
    ).toMatch(/OTP_DEBUG_FALLBACK: must be off when NODE_ENV=production/);
  });
});

describe('worker config: Twilio', () => {
  const twilio = {
    TWILIO_ACCOUNT_SID: `AC${'0'.repeat(32)}`,
    TWILIO_AUTH_TOKEN: 'twilio-token-0123',
    TWILIO_FROM: '+15017122661',
  };

  it('reads the TWILIO_* variables, with the callback derived from PUBLIC_BASE_URL', () => {
    const config = loadWorkerConfig({
      ...base,
      ...twilio,
      SMS_PROVIDERS: 'messaggio,twilio',
      PUBLIC_BASE_URL: 'https://otp.example.com/',
    });
    expect(config.providers).toEqual(['messaggio', 'twilio']);
    expect(config.twilio).toEqual({
      accountSid: twilio.TWILIO_ACCOUNT_SID,
      authToken: twilio.TWILIO_AUTH_TOKEN,
      from: twilio.TWILIO_FROM,
      baseUrl: 'https://api.twilio.com',
      timeoutMs: 10_000,
      statusCallbackUrl: 'https://otp.example.com/webhooks/twilio',
    });
  });

  it('takes TWILIO_STATUS_CALLBACK_URL over the derived one, a Messaging Service, and no callback without either', () => {
    const service = `MG${'a'.repeat(32)}`;
    const config = loadWorkerConfig({
      ...base,
      TWILIO_ACCOUNT_SID: twilio.TWILIO_ACCOUNT_SID,
      TWILIO_AUTH_TOKEN: twilio.TWILIO_AUTH_TOKEN,
      TWILIO_MESSAGING_SERVICE_SID: service,
      TWILIO_BASE_URL: 'http://127.0.0.1:4020',
      TWILIO_TIMEOUT_MS: '500',
      SMS_PROVIDERS: 'twilio,messaggio',
      PUBLIC_BASE_URL: 'https://otp.example.com',
      TWILIO_STATUS_CALLBACK_URL: 'https://hooks.example.com/otp/twilio',
    });
    expect(config.twilio).toMatchObject({
      messagingServiceSid: service,
      baseUrl: 'http://127.0.0.1:4020',
      timeoutMs: 500,
      statusCallbackUrl: 'https://hooks.example.com/otp/twilio',
    });
    expect(config.twilio).not.toHaveProperty('from');
    const bare = loadWorkerConfig({ ...base, ...twilio, SMS_PROVIDERS: 'messaggio,twilio' });
    expect(bare.twilio).not.toHaveProperty('statusCallbackUrl');
  });

  it.each([
    [
      'no Twilio variable',
      {},
      ['TWILIO_ACCOUNT_SID', 'TWILIO_AUTH_TOKEN', 'TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID'],
    ],
    [
      'no sender',
      { TWILIO_ACCOUNT_SID: twilio.TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN: 'x'.repeat(10) },
      ['TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID'],
    ],
    [
      'no token',
      { TWILIO_ACCOUNT_SID: twilio.TWILIO_ACCOUNT_SID, TWILIO_FROM: '+15017122661' },
      ['TWILIO_AUTH_TOKEN'],
    ],
  ])('refuses SMS_PROVIDERS naming twilio with %s, naming what is missing', (_label, env, names) => {
    let error: unknown;
    try {
      loadWorkerConfig({ ...base, ...env, SMS_PROVIDERS: 'messaggio,twilio' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const { message } = error as ConfigError;
    expect(message).toContain('SMS_PROVIDERS: names twilio, whose credentials are not set');
    for (const name of names) expect(message).toContain(name);
    if (!names.includes('TWILIO_ACCOUNT_SID')) expect(message).not.toMatch(/TWILIO_ACCOUNT_SID[,)]/);
  });

  it.each([
    ['TWILIO_ACCOUNT_SID', 'SK0123'],
    ['TWILIO_MESSAGING_SERVICE_SID', 'MGnothex'],
    ['TWILIO_BASE_URL', 'api.twilio.com'],
    ['TWILIO_STATUS_CALLBACK_URL', 'https://my_host.example.com/webhooks/twilio'],
    ['TWILIO_TIMEOUT_MS', '0'],
    ['TWILIO_AUTH_TOKEN', 'short'],
  ])('refuses a bad %s (%s), naming it and not its value', (name, value) => {
    let error: unknown;
    try {
      loadWorkerConfig({ ...base, ...twilio, SMS_PROVIDERS: 'messaggio,twilio', [name]: value });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toContain(`${name}:`);
    if (name === 'TWILIO_AUTH_TOKEN') expect((error as ConfigError).message).not.toContain(value);
  });
});

describe('worker config: SMS templates per locale and OTP_ORIGIN (issue 12)', () => {
  const problems = (env: Record<string, string>): string[] => {
    try {
      loadWorkerConfig({ ...base, ...env });
    } catch (err) {
      if (err instanceof ConfigError) return err.problems;
      throw err;
    }
    return [];
  };

  it('reads SMS_TEMPLATE_RU/_KK/_EN, or SMS_TEMPLATES', () => {
    expect(
      loadWorkerConfig({ ...base, SMS_TEMPLATE_KK: 'Код: {code}', SMS_TEMPLATE_EN: 'Code: {code}' })
        .smsTemplates,
    ).toEqual({
      default: 'Ваш код подтверждения: {code}',
      byLocale: { kk: 'Код: {code}', en: 'Code: {code}' },
    });
    expect(
      loadWorkerConfig({ ...base, SMS_TEMPLATES: '{"kk": "Код: {code}"}', OTP_ORIGIN: 'example.com' }),
    ).toMatchObject({ smsTemplates: { byLocale: { kk: 'Код: {code}' } }, otpOrigin: 'example.com' });
  });

  it.each([
    [{ SMS_TEMPLATES: '{"kk": "x {code}"}', SMS_TEMPLATE_RU: 'y {code}' }, /^SMS_TEMPLATES: set it or/],
    [{ SMS_TEMPLATES: 'nope' }, /^SMS_TEMPLATES: must be a JSON object/],
    [{ SMS_TEMPLATES: '{"de": "Code {code}"}' }, /^SMS_TEMPLATES: unknown locale "de"/],
    [{ SMS_TEMPLATE_KK: 'no code here' }, /^SMS_TEMPLATE_KK must contain \{code\}/],
    [{ SMS_TEMPLATES: `{"ru": "${'Ж'.repeat(60)} {code}"}` }, /^SMS_TEMPLATES\.ru renders to 79 characters/],
    [
      { SMS_TEMPLATE: `${'Ж'.repeat(51)} {code}`, OTP_ORIGIN: 'example.com' },
      /^SMS_TEMPLATE renders to 79 characters with the OTP_ORIGIN line/,
    ],
    [{ OTP_ORIGIN: 'https://example.com' }, /^OTP_ORIGIN/],
  ])('refuses %j at start-up', (env, message) => {
    expect(problems(env)).toEqual([expect.stringMatching(message)]);
  });
});

describe('worker config: outbound events', () => {
  const whsec = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;

  it('is off without EVENTS_WEBHOOK_URL, and reads every EVENTS_* variable with it', () => {
    expect(loadWorkerConfig(base).events).toBeUndefined();
    expect(
      loadWorkerConfig({
        ...base,
        EVENTS_WEBHOOK_URL: 'https://hooks.example.com/otp',
        EVENTS_WEBHOOK_SECRET: whsec,
      }).events,
    ).toEqual({
      url: 'https://hooks.example.com/otp',
      secret: whsec,
      timeoutMs: 10_000,
      concurrency: 5,
      jobOptions: { maxAttempts: 12, backoffDelayMs: 1000 },
    });
  });

  it.each([
    ['missing', undefined, /is required with EVENTS_WEBHOOK_URL/],
    ['without whsec_', Buffer.alloc(32).toString('base64'), /must be whsec_ followed by base64/],
    ['not base64', 'whsec_not*base64', /must be whsec_ followed by base64/],
    ['too short', `whsec_${Buffer.alloc(16, 1).toString('base64')}`, /24 to 64 bytes \(got 16\)/],
  ])('refuses an EVENTS_WEBHOOK_SECRET %s, never showing it', (_label, secret, message) => {
    let error: unknown;
    try {
      loadWorkerConfig({
        ...base,
        EVENTS_WEBHOOK_URL: 'https://hooks.example.com/otp',
        ...(secret === undefined ? {} : { EVENTS_WEBHOOK_SECRET: secret }),
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toMatch(message);
    if (secret !== undefined) expect((error as ConfigError).message).not.toContain(secret);
  });

  it('refuses an EVENTS_WEBHOOK_URL that is not http(s)', () => {
    expect(() =>
      loadWorkerConfig({ ...base, EVENTS_WEBHOOK_URL: 'hooks.example.com', EVENTS_WEBHOOK_SECRET: whsec }),
    ).toThrow(/EVENTS_WEBHOOK_URL/);
  });
});
