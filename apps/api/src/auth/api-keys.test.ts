import { createHash } from 'node:crypto';
import { ConfigError } from '@otp/core';
import { describe, expect, it } from 'vitest';
import { matchApiKey, parseApiKeys, presentedKey } from './api-keys.js';

const sha = (key: string) => createHash('sha256').update(key).digest('hex');

describe('parseApiKeys', () => {
  it('reads names, hashes and optional quotas', () => {
    const entries = parseApiKeys(`mobile:${sha('k1')}, backend:${sha('k2')}:600`);
    expect(entries.map((e) => [e.name, e.sha256.toString('hex'), e.perMinute])).toEqual([
      ['mobile', sha('k1'), undefined],
      ['backend', sha('k2'), 600],
    ]);
  });

  it('is empty for an empty value', () => {
    expect(parseApiKeys(' ')).toEqual([]);
  });

  it.each([
    [`mobile:abc`, /SHA-256 in hex/],
    [`mobile:${sha('k')}:zero`, /quota must be a whole number/],
    [`mobile:${sha('k')}:0`, /quota must be a whole number/],
    [`bad name:${sha('k')}`, /entry name/],
    [`a:${sha('k')},a:${sha('j')}`, /used twice/],
    [`a:${sha('k')}:5:extra`, /expected name:sha256/],
  ])('refuses %s', (value, message) => {
    expect(() => parseApiKeys(value)).toThrow(ConfigError);
    expect(() => parseApiKeys(value)).toThrow(message);
  });

  it('never repeats what was in the hash position (it may be a pasted key)', () => {
    expect(() => parseApiKeys('mobile:my-real-secret-key')).toThrow(/^(?![\s\S]*my-real-secret-key)/);
  });
});

describe('presentedKey', () => {
  it.each([
    [{ authorization: 'Bearer abc' }, 'abc'],
    [{ authorization: 'bearer   abc  ' }, 'abc'],
    [{ 'x-api-key': 'xyz' }, 'xyz'],
    [{ authorization: 'Basic abc', 'x-api-key': 'xyz' }, 'xyz'],
    [{ authorization: 'Basic abc' }, undefined],
    [{}, undefined],
    // Empty once trimmed: no key at all.
    [{ 'x-api-key': ' \t ' }, undefined],
    [{ 'x-api-key': '' }, undefined],
    // Only ASCII space and tab are padding; a non-breaking space is part of the key.
    [{ 'x-api-key': '\u00a0' }, '\u00a0'],
    [{ 'x-api-key': ' key\u00a0\t' }, 'key\u00a0'],
  ])('%j → %s', (headers, expected) => {
    expect(presentedKey(headers)).toBe(expected);
  });
});

describe('matchApiKey', () => {
  const entries = parseApiKeys(`a:${sha('key-a')},b:${sha('key-b')}:10`);
  it('finds the matching entry, and nothing for another key', () => {
    expect(matchApiKey(entries, 'key-b')?.name).toBe('b');
    expect(matchApiKey(entries, 'key-a')?.name).toBe('a');
    expect(matchApiKey(entries, 'key-c')).toBeUndefined();
    expect(matchApiKey([], 'key-a')).toBeUndefined();
  });
});

describe('the hash of an empty key', () => {
  const EMPTY = sha('');
  it('is refused at config time, naming the entry', () => {
    expect(() => parseApiKeys(`blank:${EMPTY}`)).toThrow(
      /API_KEYS entry "blank": the hash is that of an empty key/,
    );
    expect(() => parseApiKeys(`blank:${EMPTY.toUpperCase()}`)).toThrow(/empty key/);
  });

  it('is never matched by an empty or blank key', () => {
    const entries = [{ name: 'blank', sha256: Buffer.from(EMPTY, 'hex') }];
    expect(matchApiKey(entries, '')).toBeUndefined();
    expect(presentedKey({ 'x-api-key': '\u00a0' })).not.toBe('');
  });
});
