import { describe, expect, it } from 'vitest';
import { normalizePhone } from './normalize.js';

const RU_KZ = { allowedCountries: ['RU', 'KZ'] };

type Expected = { e164: string; country: string } | 'PHONE_INVALID' | 'COUNTRY_NOT_ALLOWED';

// What people actually type into a phone field, good and bad.
const cases: Array<[input: string, expected: Expected]> = [
  // Kazakhstan (Kcell/Beeline/Tele2/Altel ranges), every common spelling
  ['+7 708 804 34 14', { e164: '+77088043414', country: 'KZ' }],
  ['8 (708) 804-34-14', { e164: '+77088043414', country: 'KZ' }],
  ['87088043414', { e164: '+77088043414', country: 'KZ' }],
  ['77088043414', { e164: '+77088043414', country: 'KZ' }],
  ['7088043414', { e164: '+77088043414', country: 'KZ' }],
  ['+7-708-804-3414', { e164: '+77088043414', country: 'KZ' }],
  ['+77088043414', { e164: '+77088043414', country: 'KZ' }],
  ['  +7 (747) 123-45-67  ', { e164: '+77471234567', country: 'KZ' }],
  ['8.701.234.56.78', { e164: '+77012345678', country: 'KZ' }],
  ['+7\u00a0777\u00a0123\u00a04567', { e164: '+77771234567', country: 'KZ' }],
  ['+7 (700) 000-00-01', { e164: '+77000000001', country: 'KZ' }],
  // Russia
  ['+7 916 123-45-67', { e164: '+79161234567', country: 'RU' }],
  ['8 (916) 123 45 67', { e164: '+79161234567', country: 'RU' }],
  ['9161234567', { e164: '+79161234567', country: 'RU' }],
  ['79991234567', { e164: '+79991234567', country: 'RU' }],
  ['+7–900–123–45–67', { e164: '+79001234567', country: 'RU' }],
  ['+7(958)5551234', { e164: '+79585551234', country: 'RU' }],
  // "+8 ..." typed for "+7 ..."
  ['+8 916 123 45 67', { e164: '+79161234567', country: 'RU' }],
  ['+8 (708) 804-34-14', { e164: '+77088043414', country: 'KZ' }],
  // Landlines and other non-mobile numbers cannot receive an SMS
  ['+7 495 123-45-67', 'PHONE_INVALID'], // Moscow landline
  ['8 (495) 123-45-67', 'PHONE_INVALID'],
  ['+7 7172 12 34 56', 'PHONE_INVALID'], // Astana landline
  ['+7 727 255 55 55', 'PHONE_INVALID'], // Almaty landline
  // Wrong length
  ['+7 708 804 34', 'PHONE_INVALID'], // too short
  ['708804341', 'PHONE_INVALID'], // 9 digits
  ['+7 708 804 34 141', 'PHONE_INVALID'], // one digit too many
  ['+7708804341412345678', 'PHONE_INVALID'], // longer than E.164 allows
  ['', 'PHONE_INVALID'],
  ['   ', 'PHONE_INVALID'],
  ['+', 'PHONE_INVALID'],
  // Not a number at all, or smuggled characters
  ['abc', 'PHONE_INVALID'],
  ['+7 708 ABC 34 14', 'PHONE_INVALID'],
  ['+7 708 804 34 14 ext 5', 'PHONE_INVALID'],
  ['++77088043414', 'PHONE_INVALID'],
  ['7708804341+4', 'PHONE_INVALID'],
  ['+7 708 804 34 14#', 'PHONE_INVALID'],
  ['\u0667\u0667\u0660\u0668\u0668\u0660\u0664\u0663\u0664\u0661\u0664', 'PHONE_INVALID'], // Arabic-Indic digits
  ['\uff17\uff17\uff10\uff18\uff18\uff10\uff14\uff13\uff14\uff11\uff14', 'PHONE_INVALID'], // full-width digits
  ['+7 708 804 34 14\u0000', 'PHONE_INVALID'],
  ['+7 000 000 00 00', 'PHONE_INVALID'], // unassigned range
  // Other countries: valid numbers, but not served by default
  ['+1 212 555 0123', 'COUNTRY_NOT_ALLOWED'], // US
  ['12125550123', 'COUNTRY_NOT_ALLOWED'], // US without +
  ['+44 7911 123456', 'COUNTRY_NOT_ALLOWED'], // UK mobile
  ['+84 912 345 678', 'COUNTRY_NOT_ALLOWED'], // Vietnam: a real +8x number keeps its country
  ['+998 90 123 45 67', 'COUNTRY_NOT_ALLOWED'], // Uzbekistan
  ['+375 29 123 45 67', 'COUNTRY_NOT_ALLOWED'], // Belarus
];

describe('normalizePhone', () => {
  it.each(cases)('%j → %j', (input, expected) => {
    const result = normalizePhone(input, RU_KZ);
    if (typeof expected === 'string') {
      expect(result).toMatchObject({ ok: false, code: expected });
    } else {
      expect(result).toEqual({ ok: true, ...expected });
    }
  });

  it('honours the allow-list: KZ only refuses a Russian mobile', () => {
    expect(normalizePhone('+79161234567', { allowedCountries: ['KZ'] })).toMatchObject({
      ok: false,
      code: 'COUNTRY_NOT_ALLOWED',
      country: 'RU',
    });
    expect(normalizePhone('+77088043414', { allowedCountries: ['KZ'] })).toMatchObject({ ok: true });
  });

  it('accepts a US mobile when the US is allowed', () => {
    expect(normalizePhone('+1 212 555 0123', { allowedCountries: ['US'] })).toEqual({
      ok: true,
      e164: '+12125550123',
      country: 'US',
    });
  });

  it('names the problem in the reason', () => {
    const landline = normalizePhone('+7 495 123-45-67', RU_KZ);
    expect(landline.ok).toBe(false);
    if (!landline.ok) expect(landline.reason).toMatch(/not a mobile/);
    const us = normalizePhone('+1 212 555 0123', RU_KZ);
    if (!us.ok) expect(us.reason).toMatch(/US/);
  });
});
