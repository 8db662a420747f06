import { createHash } from 'node:crypto';
import { ConfigError } from '@otp/core';
import { describe, expect, it } from 'vitest';
import { adminChallenge, isAdmin, parseAdminCredentials, presentedBasic } from './admin-credentials.js';

const sha = (key: string) => createHash('sha256').update(key).digest('hex');
const basic = (user: string, password: string) => ({
  authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
});

describe('parseAdminCredentials', () => {
  it('is undefined (admin off) when nothing is set', () => {
    expect(parseAdminCredentials({})).toBeUndefined();
  });

  it.each([
    [{ user: 'ops' }, /ADMIN_PASSWORD: is required with ADMIN_USER/],
    [{ password: 'long-enough-password' }, /ADMIN_USER: is required with ADMIN_PASSWORD/],
    [{ user: 'a:b', password: 'long-enough-password' }, /ADMIN_USER: must not contain ":"/],
    [{ apiKeySha256: 'the-key-itself' }, /ADMIN_API_KEY: must be the SHA-256/],
  ])('refuses %o, naming the variable', (vars, message) => {
    expect(() => parseAdminCredentials(vars)).toThrow(ConfigError);
    expect(() => parseAdminCredentials(vars)).toThrow(message);
  });

  it('never echoes a pasted key', () => {
    expect(() => parseAdminCredentials({ apiKeySha256: 'super-secret-admin-key' })).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('super-secret-admin-key') }),
    );
  });
});

describe('isAdmin', () => {
  const both = parseAdminCredentials({
    user: 'ops',
    password: 'correct horse battery',
    apiKeySha256: sha('admin-key-0123456789'),
  });
  if (!both) throw new Error('expected credentials');

  it.each([
    ['the right Basic pair', basic('ops', 'correct horse battery'), true],
    ['a password with a colon in it', basic('ops', 'correct horse battery:'), false],
    ['the wrong password', basic('ops', 'wrong horse battery'), false],
    ['the wrong user', basic('root', 'correct horse battery'), false],
    ['the key as Bearer', { authorization: 'Bearer admin-key-0123456789' }, true],
    ['the key as X-API-Key', { 'x-api-key': 'admin-key-0123456789' }, true],
    ['the hash instead of the key', { authorization: `Bearer ${sha('admin-key-0123456789')}` }, false],
    ['a wrong key', { 'x-api-key': 'nope' }, false],
    ['nothing', {}, false],
    ['garbage', { authorization: 'Basic !!!' }, false],
  ])('%s → %s', (_label, headers, expected) => {
    expect(isAdmin(both, headers)).toBe(expected);
  });

  it('does not accept a key when only Basic is configured, nor Basic when only a key is', () => {
    const basicOnly = parseAdminCredentials({ user: 'ops', password: 'correct horse battery' });
    const keyOnly = parseAdminCredentials({ apiKeySha256: sha('k') });
    if (!basicOnly || !keyOnly) throw new Error('expected credentials');
    expect(isAdmin(basicOnly, { authorization: 'Bearer correct horse battery' })).toBe(false);
    expect(isAdmin(keyOnly, basic('ops', 'k'))).toBe(false);
    expect(adminChallenge(basicOnly)).toBe('Basic realm="otp-admin", charset="UTF-8"');
    expect(adminChallenge(keyOnly)).toBe('Bearer realm="otp-admin"');
    expect(adminChallenge(both)).toMatch(/^Basic .*, Bearer /);
  });
});

describe('presentedBasic', () => {
  it('splits at the first colon only', () => {
    expect(presentedBasic(basic('ops', 'a:b:c'))).toEqual({ user: 'ops', password: 'a:b:c' });
  });
  it('ignores other schemes', () => {
    expect(presentedBasic({ authorization: 'Bearer x' })).toBeUndefined();
  });
});

describe('ADMIN_API_KEY of an empty key', () => {
  it('is refused', () => {
    const empty = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
    expect(() => parseAdminCredentials({ apiKeySha256: empty })).toThrow(
      /ADMIN_API_KEY: is the hash of an empty key/,
    );
  });
});
