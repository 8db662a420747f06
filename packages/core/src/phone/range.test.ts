import { describe, expect, it } from 'vitest';
import { phoneRange } from './range.js';

describe('phoneRange', () => {
  it.each([
    ['+77012345678', 'KZ', 'auto', '+7701234'],
    ['+79161234567', 'RU', 'auto', '+7916123'],
    ['+77012345678', 'KZ', 3, '+7701'],
    ['+77012345678', 'KZ', 20, '+77012345678'],
    ['+4915112345678', 'DE', 'auto', '+491511234'],
    ['+12025550143', 'US', 'auto', '+1202555'],
  ] as const)('%s (%s, %s) is in %s', (e164, country, digits, range) => {
    expect(phoneRange(e164, country, digits)).toBe(range);
  });
});
