import { describe, expect, it } from 'vitest';
import {
  parseBlockedPrefixes,
  parseCountryLimits,
  parseTestNumbers,
  parseTrustProxy,
} from './parse-lists.js';

describe('config lists', () => {
  it('parses country limits, with or without /day', () => {
    expect(parseCountryLimits('KZ:2000, ru:5000/day')).toEqual({ KZ: 2000, RU: 5000 });
    expect(parseCountryLimits('')).toEqual({});
    expect(() => parseCountryLimits('KZ=2000')).toThrow(/SMS_COUNTRY_DAILY_LIMITS: "KZ=2000"/);
  });

  it('parses blocked prefixes', () => {
    expect(parseBlockedPrefixes('+7700, +79001')).toEqual(['+7700', '+79001']);
    expect(() => parseBlockedPrefixes('7700')).toThrow(/BLOCKED_PREFIXES/);
  });

  it('parses test numbers and checks their codes against OTP_LENGTH', () => {
    expect(parseTestNumbers('+77000000001:123456,+77000000002:000000', 6)).toEqual(
      new Map([
        ['+77000000001', '123456'],
        ['+77000000002', '000000'],
      ]),
    );
    expect(() => parseTestNumbers('+77000000001:1234', 6)).toThrow(/must be 6 digits/);
    expect(() => parseTestNumbers('87000000001:123456', 6)).toThrow(/E.164/);
  });

  it.each([
    ['', false],
    ['false', false],
    ['true', true],
    ['2', 2],
    ['10.0.0.0/8, 127.0.0.1', ['10.0.0.0/8', '127.0.0.1']],
  ])('TRUST_PROXY=%j → %j', (value, expected) => {
    expect(parseTrustProxy(value)).toEqual(expected);
  });
});
