import { ConfigError, DEV_OTP_SECRET } from '@otp/core';
import { describe, expect, it } from 'vitest';
import { loadApiConfig } from './config.js';

function problems(env: Record<string, string>): string {
  try {
    loadApiConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('loadApiConfig', () => {
  it('has working defaults for local development with OTP_DEBUG=true (debug mode, dev secret)', () => {
    const config = loadApiConfig({ OTP_DEBUG: 'true' });
    expect(config).toMatchObject({
      port: 3000,
      otpLength: 6,
      otpTtlSeconds: 600,
      otpMaxAttempts: 5,
      resendCooldownSeconds: 60,
      allowedCountries: ['RU', 'KZ'],
      smsMaxAttempts: undefined,
      debugMode: true,
      insecureSecret: true,
      bodyLimitBytes: 4096,
    });
  });

  it('refuses production without OTP_SECRET or MESSAGGIO_API_KEY, naming both', () => {
    const message = problems({ NODE_ENV: 'production' });
    expect(message).toMatch(/OTP_SECRET: is required/);
    expect(message).toMatch(
      /OTP_DEBUG: no SMS provider is configured; set MESSAGGIO_API_KEY or TWILIO_AUTH_TOKEN/,
    );
  });

  it('names every bad variable in one round: schema errors do not hide later checks', () => {
    const message = problems({
      PORT: 'abc',
      OTP_LENGTH: '3',
      ALLOWED_COUNTRIES: 'XX,KZ',
      ADMIN_PASSWORD: 'short',
    });
    expect(message).toMatch(/PORT:/);
    expect(message).toMatch(/OTP_LENGTH:/);
    expect(message).toMatch(/ALLOWED_COUNTRIES: unknown country code\(s\) XX/);
    expect(message).toMatch(/ADMIN_PASSWORD:/);
    expect(message).not.toMatch(/short/);
  });

  it('starts in production with both set, not in debug mode', () => {
    const config = loadApiConfig({
      NODE_ENV: 'production',
      OTP_SECRET: 'a1'.repeat(32),
      MESSAGGIO_API_KEY: 'login',
    });
    expect(config).toMatchObject({ debugMode: false, insecureSecret: false });
  });

  describe('debug mode is an explicit opt-in (OTP_DEBUG)', () => {
    it('refuses to start with no provider and OTP_DEBUG off, naming both ways out', () => {
      for (const env of [{}, { NODE_ENV: 'development' }, { OTP_DEBUG: 'false' }] as Record<
        string,
        string
      >[]) {
        const message = problems(env);
        expect(message).toMatch(
          /OTP_DEBUG: no SMS provider is configured; set MESSAGGIO_API_KEY or TWILIO_AUTH_TOKEN/,
        );
        expect(message).toMatch(/OTP_DEBUG=true/);
      }
    });

    it('refuses OTP_DEBUG=true together with a provider key', () => {
      expect(
        problems({ OTP_DEBUG: 'true', MESSAGGIO_API_KEY: 'login', OTP_SECRET: 'x1'.repeat(32) }),
      ).toMatch(/OTP_DEBUG: must be off when an SMS provider is configured/);
    });

    it('refuses OTP_DEBUG=true in production', () => {
      expect(problems({ NODE_ENV: 'production', OTP_DEBUG: 'true', OTP_SECRET: 'x1'.repeat(32) })).toMatch(
        /OTP_DEBUG: must be off when NODE_ENV=production/,
      );
    });

    it('runs the real thing with a provider key and OTP_DEBUG unset', () => {
      expect(loadApiConfig({ MESSAGGIO_API_KEY: 'login', OTP_SECRET: 'x1'.repeat(32) }).debugMode).toBe(
        false,
      );
    });
  });

  describe('OTP_SECRET', () => {
    it('refuses the built-in development secret when a provider key is set', () => {
      expect(problems({ MESSAGGIO_API_KEY: 'login' })).toMatch(
        /OTP_SECRET: is required when SMS provider credentials are set; the built-in development secret is public/,
      );
      expect(problems({ MESSAGGIO_API_KEY: 'login', OTP_SECRET: DEV_OTP_SECRET })).toMatch(
        /OTP_SECRET: is required when SMS provider credentials are set/,
      );
    });

    it('refuses the built-in development secret in production, even set explicitly', () => {
      expect(problems({ NODE_ENV: 'production', OTP_SECRET: DEV_OTP_SECRET })).toMatch(
        /OTP_SECRET: is required when NODE_ENV=production/,
      );
    });

    it.each([
      ['32 hex characters (16 bytes)', 'ab'.repeat(16)],
      ['63 hex characters', `${'ab'.repeat(31)}c`],
      ['42 base64url characters', 'Ab3_'.repeat(10).concat('xy')],
      ['one character repeated', 'x'.repeat(64)],
    ])('refuses a weak secret in production: %s', (_label, secret) => {
      const message = problems({ NODE_ENV: 'production', MESSAGGIO_API_KEY: 'login', OTP_SECRET: secret });
      expect(message).toMatch(/OTP_SECRET: (must carry at least 32 random bytes|is one character repeated)/);
      expect(message).not.toContain(secret);
    });

    it.each([
      ['64 hex characters', 'ab'.repeat(32)],
      ['43 base64url characters', 'Ab3_'.repeat(10).concat('xyz')],
    ])('accepts a strong secret in production: %s', (_label, secret) => {
      expect(
        loadApiConfig({ NODE_ENV: 'production', MESSAGGIO_API_KEY: 'login', OTP_SECRET: secret }).otpSecret,
      ).toBe(secret);
    });
  });

  it('is not in debug mode with Twilio alone (TWILIO_AUTH_TOKEN), in production too', () => {
    expect(
      loadApiConfig({ TWILIO_AUTH_TOKEN: 'twilio-token-0123', OTP_SECRET: 'x1'.repeat(32) }).debugMode,
    ).toBe(false);
    expect(
      problems({ TWILIO_AUTH_TOKEN: 'twilio-token-0123', OTP_DEBUG: 'true', OTP_SECRET: 'x1'.repeat(32) }),
    ).toMatch(/OTP_DEBUG: must be off when an SMS provider is configured/);
    const config = loadApiConfig({
      NODE_ENV: 'production',
      OTP_SECRET: 'ab'.repeat(32),
      TWILIO_AUTH_TOKEN: 'twilio-token-0123',
    });
    expect(config).toMatchObject({ debugMode: false });
    expect(config.webhooks.map((handler) => handler.provider)).toEqual(['twilio']);
  });

  it.each([
    [{ PORT: 'http' }, /PORT/],
    [{ OTP_LENGTH: '3' }, /OTP_LENGTH/],
    [{ OTP_SECRET: 'short' }, /OTP_SECRET: .*\(hidden\)/],
    [{ ALLOWED_COUNTRIES: 'RU,XX' }, /ALLOWED_COUNTRIES: unknown country code\(s\) XX/],
    [{ ALLOWED_COUNTRIES: ' , ' }, /ALLOWED_COUNTRIES: must name at least one/],
    [{ REDIS_URL: 'localhost:6379' }, /REDIS_URL/],
    [{ NODE_ENV: 'staging' }, /NODE_ENV/],
  ])('names the bad variable: %j', (env, message) => {
    expect(problems(env)).toMatch(message);
  });

  it('upper-cases allowed countries', () => {
    expect(loadApiConfig({ OTP_DEBUG: 'true', ALLOWED_COUNTRIES: 'kz' }).allowedCountries).toEqual(['KZ']);
  });
});

describe('loadApiConfig: retry budget and load shedding', () => {
  it('leaves SMS_MAX_ATTEMPTS unset by default (retry for the code’s life) and caps when set', () => {
    expect(loadApiConfig({ OTP_DEBUG: 'true' }).smsMaxAttempts).toBeUndefined();
    expect(loadApiConfig({ OTP_DEBUG: 'true', SMS_MAX_ATTEMPTS: '3' }).smsMaxAttempts).toBe(3);
    expect(problems({ SMS_MAX_ATTEMPTS: '0' })).toMatch(/SMS_MAX_ATTEMPTS/);
  });

  it('has overload limits on by default, in bytes, and 0 turns one off', () => {
    expect(loadApiConfig({ OTP_DEBUG: 'true' }).overload).toEqual({
      maxEventLoopDelayMs: 1000,
      maxHeapUsedBytes: 1024 * 1024 * 1024,
      maxRssBytes: 1536 * 1024 * 1024,
      retryAfterSeconds: 5,
    });
    expect(loadApiConfig({ OTP_DEBUG: 'true', OVERLOAD_MAX_RSS_MB: '0' }).overload.maxRssBytes).toBe(0);
    expect(problems({ OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '-1' })).toMatch(/OVERLOAD_MAX_EVENT_LOOP_DELAY_MS/);
  });

  it('REDIS_CLUSTER_NODES and QUEUE_SHARDS: a cluster instead of REDIS_URL, and N send queues', () => {
    const config = loadApiConfig({
      OTP_DEBUG: 'true',
      REDIS_CLUSTER_NODES: '10.0.0.1:7000',
      QUEUE_SHARDS: '4',
    });
    expect(config.redisCluster).toEqual({ nodes: [{ host: '10.0.0.1', port: 7000 }], tls: false });
    expect(config.queueShards).toBe(4);
    const single = loadApiConfig({ OTP_DEBUG: 'true' });
    expect(single.queueShards).toBe(1);
    expect(single.redisCluster).toBeUndefined();
    expect(
      problems({ OTP_DEBUG: 'true', REDIS_URL: 'redis://a:6379', REDIS_CLUSTER_NODES: 'b:7000' }),
    ).toMatch(/REDIS_URL and REDIS_CLUSTER_NODES: set one, not both/);
    expect(problems({ OTP_DEBUG: 'true', QUEUE_SHARDS: '0' })).toMatch(/QUEUE_SHARDS/);
  });
});

describe('loadApiConfig: outbound events', () => {
  it('queues events only with EVENTS_WEBHOOK_URL, and needs no signing secret (the worker signs)', () => {
    expect(loadApiConfig({ OTP_DEBUG: 'true' }).events).toBeUndefined();
    expect(
      loadApiConfig({
        OTP_DEBUG: 'true',
        EVENTS_WEBHOOK_URL: 'https://hooks.example.com/otp',
        EVENTS_MAX_ATTEMPTS: '3',
      }).events,
    ).toEqual({ jobOptions: { maxAttempts: 3, backoffDelayMs: 1000 } });
  });

  it('names a bad EVENTS_* variable', () => {
    expect(problems({ OTP_DEBUG: 'true', EVENTS_WEBHOOK_URL: 'nope', EVENTS_MAX_ATTEMPTS: '0' })).toMatch(
      /EVENTS_WEBHOOK_URL[\s\S]*EVENTS_MAX_ATTEMPTS|EVENTS_MAX_ATTEMPTS[\s\S]*EVENTS_WEBHOOK_URL/,
    );
  });
});
