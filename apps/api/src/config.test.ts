import { ConfigError } from '@otp/core';
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
  it('has working defaults for local development (debug mode, dev secret)', () => {
    const config = loadApiConfig({});
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
    expect(message).toMatch(/MESSAGGIO_API_KEY: is required/);
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
      OTP_SECRET: 's'.repeat(32),
      MESSAGGIO_API_KEY: 'login',
    });
    expect(config).toMatchObject({ debugMode: false, insecureSecret: false });
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
    expect(loadApiConfig({ ALLOWED_COUNTRIES: 'kz' }).allowedCountries).toEqual(['KZ']);
  });
});

describe('loadApiConfig: retry budget and load shedding', () => {
  it('leaves SMS_MAX_ATTEMPTS unset by default (retry for the code’s life) and caps when set', () => {
    expect(loadApiConfig({}).smsMaxAttempts).toBeUndefined();
    expect(loadApiConfig({ SMS_MAX_ATTEMPTS: '3' }).smsMaxAttempts).toBe(3);
    expect(problems({ SMS_MAX_ATTEMPTS: '0' })).toMatch(/SMS_MAX_ATTEMPTS/);
  });

  it('has overload limits on by default, in bytes, and 0 turns one off', () => {
    expect(loadApiConfig({}).overload).toEqual({
      maxEventLoopDelayMs: 1000,
      maxHeapUsedBytes: 1024 * 1024 * 1024,
      maxRssBytes: 1536 * 1024 * 1024,
      retryAfterSeconds: 5,
    });
    expect(loadApiConfig({ OVERLOAD_MAX_RSS_MB: '0' }).overload.maxRssBytes).toBe(0);
    expect(problems({ OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '-1' })).toMatch(/OVERLOAD_MAX_EVENT_LOOP_DELAY_MS/);
  });
});
