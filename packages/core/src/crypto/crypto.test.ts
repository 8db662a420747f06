import { describe, expect, it } from 'vitest';
import { DecryptError, decrypt, encrypt } from './cipher.js';
import { codeDigest, deriveKeys, safeEqual } from './keys.js';

const keys = deriveKeys('a-test-secret-that-is-long-enough-1234');

describe('deriveKeys', () => {
  it('derives distinct 32-byte keys per purpose, stable for one secret', () => {
    expect(keys.codeHmacKey).toHaveLength(32);
    expect(keys.jobCipherKey).toHaveLength(32);
    expect(keys.codeHmacKey.equals(keys.jobCipherKey)).toBe(false);
    expect(deriveKeys('a-test-secret-that-is-long-enough-1234').codeHmacKey.equals(keys.codeHmacKey)).toBe(
      true,
    );
    expect(deriveKeys('another-secret-entirely-0000000000000').codeHmacKey.equals(keys.codeHmacKey)).toBe(
      false,
    );
  });
});

describe('codeDigest', () => {
  it('is a hex HMAC that depends on both phone and code and never contains the code', () => {
    const digest = codeDigest(keys.codeHmacKey, '+77088043414', '123456');
    expect(digest).toMatch(/^[0-9a-f]{64}$/);
    expect(digest).not.toContain('123456');
    expect(codeDigest(keys.codeHmacKey, '+77088043414', '123457')).not.toBe(digest);
    expect(codeDigest(keys.codeHmacKey, '+77088043415', '123456')).not.toBe(digest);
  });
});

describe('safeEqual', () => {
  it.each([
    ['abc', 'abc', true],
    ['abc', 'abd', false],
    ['abc', 'abcd', false],
    ['', '', true],
  ])('%j vs %j → %s', (a, b, expected) => {
    expect(safeEqual(a, b)).toBe(expected);
  });
});

describe('encrypt/decrypt', () => {
  it('round-trips and hides the plaintext', () => {
    const sealed = encrypt(keys.jobCipherKey, '123456', 'ver-1|+77088043414');
    expect(sealed).toMatch(/^v1\.[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(sealed).not.toContain('123456');
    expect(decrypt(keys.jobCipherKey, sealed, 'ver-1|+77088043414')).toBe('123456');
  });

  it('uses a fresh IV each time', () => {
    expect(encrypt(keys.jobCipherKey, '123456', 'x')).not.toBe(encrypt(keys.jobCipherKey, '123456', 'x'));
  });

  it('never repeats an IV, across refills of the pool it draws from', () => {
    // 2,000 IVs span several refills of the 512-IV pool.
    const sealed = Array.from({ length: 2000 }, () => encrypt(keys.jobCipherKey, '123456', 'x'));
    const ivs = new Set(sealed.map((value) => value.split('.')[1]));
    expect(ivs.size).toBe(2000);
    for (const value of sealed.slice(-600)) expect(decrypt(keys.jobCipherKey, value, 'x')).toBe('123456');
  });

  it('refuses another context, another key, tampering and garbage', () => {
    const sealed = encrypt(keys.jobCipherKey, '123456', 'ver-1|+77088043414');
    expect(() => decrypt(keys.jobCipherKey, sealed, 'ver-2|+77088043414')).toThrow(DecryptError);
    expect(() =>
      decrypt(deriveKeys('other-secret-xxxxxxxxxxxxxxxxxxxxxxx').jobCipherKey, sealed, 'ver-1|+77088043414'),
    ).toThrow(/OTP_SECRET/);
    const [v, iv, body, tag] = sealed.split('.');
    const flipped = `${v}.${iv}.${body?.startsWith('A') ? `B${body.slice(1)}` : `A${body?.slice(1)}`}.${tag}`;
    expect(() => decrypt(keys.jobCipherKey, flipped, 'ver-1|+77088043414')).toThrow(DecryptError);
    expect(() => decrypt(keys.jobCipherKey, 'not-encrypted', 'x')).toThrow(/unknown format/);
  });
});
