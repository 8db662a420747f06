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
      smsMaxAttempts: 5,
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

  it('starts in production with both set, not in debug mode', () => {
    const config = loadApiConfig({
      NODE_ENV: 'production',
      OTP_SECRET: 's'.repeat(32),
      MESSAGGIO_API_KEY: 'login',
    });
    expect(config).toMatchObject({ debugMode: false, insecureSecret: false });
  });

  it('is not in debug mode with Twilio alone (TWILIO_AUTH_TOKEN), in production too', () => {
    expect(loadApiConfig({ TWILIO_AUTH_TOKEN: 'twilio-token-0123' }).debugMode).toBe(false);
    const config = loadApiConfig({
      NODE_ENV: 'production',
      OTP_SECRET: 's'.repeat(32),
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
    expect(loadApiConfig({ ALLOWED_COUNTRIES: 'kz' }).allowedCountries).toEqual(['KZ']);
  });
});
