import { ConfigError } from '@otp/core';
import { describe, expect, it } from 'vitest';
import { loadWorkerConfig } from './config.js';

const base = { NODE_ENV: 'test', MESSAGGIO_API_KEY: 'login', MESSAGGIO_SENDER: 'OTPTEST' };
const SECRET = 'webhook-secret-0123456789';

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

  it('is the debug provider alone with OTP_DEBUG=true, and with no credentials at all (the old rule)', () => {
    expect(loadWorkerConfig({ ...base, OTP_DEBUG: 'true' }).providers).toEqual(['debug']);
    expect(loadWorkerConfig({ NODE_ENV: 'test' })).toMatchObject({ debugMode: true, providers: ['debug'] });
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

  it('refuses OTP_DEBUG=false with a provider whose credentials are missing', () => {
    expect(() => loadWorkerConfig({ NODE_ENV: 'test', OTP_DEBUG: 'false' })).toThrow(
      /SMS_PROVIDERS: names messaggio, whose credentials are not set \(MESSAGGIO_API_KEY/,
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
