import Type from 'typebox';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.js';
import { DEV_OTP_SECRET, parseEnv, resolveDebugMode, resolveOtpSecret, splitList } from './env.js';

const Schema = Type.Object({
  PORT: Type.Integer({ default: 3000, minimum: 1, maximum: 65_535 }),
  FLAG: Type.Boolean({ default: false }),
  NAME: Type.String({ default: 'otp' }),
  API_SECRET: Type.Optional(Type.String({ minLength: 8 })),
});

describe('parseEnv', () => {
  it('applies defaults and treats empty strings as unset', () => {
    expect(parseEnv(Schema, { PORT: '', NAME: '  ' })).toEqual({ PORT: 3000, FLAG: false, NAME: 'otp' });
  });

  it('converts numbers and the usual boolean spellings', () => {
    expect(parseEnv(Schema, { PORT: '8080', FLAG: 'yes' })).toMatchObject({ PORT: 8080, FLAG: true });
    expect(parseEnv(Schema, { FLAG: 'OFF' })).toMatchObject({ FLAG: false });
  });

  it('ignores variables the schema does not name', () => {
    expect(parseEnv(Schema, { UNRELATED: 'x' })).not.toHaveProperty('UNRELATED');
  });

  it('names every bad variable at once and hides secret values', () => {
    let caught: unknown;
    try {
      parseEnv(Schema, { PORT: 'eighty', FLAG: 'maybe', API_SECRET: 'short' });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const message = (caught as ConfigError).message;
    expect(message).toMatch(/PORT: .*"eighty"/);
    expect(message).toMatch(/FLAG: must be true or false/);
    expect(message).toMatch(/API_SECRET: .*\(hidden\)/);
    expect(message).not.toContain('short');
  });

  it('masks the password of a URL variable in its error', () => {
    const schema = Type.Object({ REDIS_URL: Type.String({ pattern: '^rediss?://' }) });
    let message = '';
    try {
      parseEnv(schema, { REDIS_URL: 'http://:hunter2@redis:6379' });
    } catch (err) {
      message = (err as ConfigError).message;
    }
    expect(message).toMatch(/REDIS_URL: .*http:\/\/:\*\*\*@redis:6379/);
    expect(message).not.toContain('hunter2');
  });

  it('refuses out-of-range numbers', () => {
    expect(() => parseEnv(Schema, { PORT: '70000' })).toThrow(/PORT/);
  });
});

describe('resolveOtpSecret / resolveDebugMode', () => {
  it('uses the development secret only outside production', () => {
    expect(resolveOtpSecret('development', undefined)).toEqual({
      secret: DEV_OTP_SECRET,
      insecureDefault: true,
    });
    expect(resolveOtpSecret('production', 'ab'.repeat(32))).toEqual({
      secret: 'ab'.repeat(32),
      insecureDefault: false,
    });
    expect(() => resolveOtpSecret('production', undefined)).toThrow(/OTP_SECRET/);
  });

  it('is in debug mode only when asked (OTP_DEBUG), never with a provider, never in production', () => {
    expect(resolveDebugMode('development', true, false)).toBe(true);
    expect(resolveDebugMode('development', false, true)).toBe(false);
    expect(resolveDebugMode('production', false, true)).toBe(false);
    expect(() => resolveDebugMode('development', false, false)).toThrow(/OTP_DEBUG=true/);
    expect(() => resolveDebugMode('production', false, false, 'X_API_KEY')).toThrow(/set X_API_KEY/);
    expect(() => resolveDebugMode('development', true, true)).toThrow(/OTP_DEBUG: must be off/);
    expect(() => resolveDebugMode('production', true, false)).toThrow(/OTP_DEBUG: must be off/);
  });

  it('refuses the development secret with a provider key, and weak secrets in production', () => {
    expect(() => resolveOtpSecret('development', undefined, true)).toThrow(/OTP_SECRET/);
    expect(() => resolveOtpSecret('test', DEV_OTP_SECRET, true)).toThrow(/OTP_SECRET/);
    expect(() => resolveOtpSecret('production', 'x'.repeat(64))).toThrow(/repeated/);
    expect(() => resolveOtpSecret('production', 'ab'.repeat(31))).toThrow(/32 random bytes/);
    expect(resolveOtpSecret('development', 'x'.repeat(32), true).secret).toBe('x'.repeat(32));
  });
});

describe('splitList', () => {
  it('trims and drops empty items', () => {
    expect(splitList(' RU, KZ ,,')).toEqual(['RU', 'KZ']);
  });
});
