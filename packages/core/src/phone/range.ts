import { type CountryCode, getCountryCallingCode } from 'libphonenumber-js/max';

/**
 * How many national digits name a number range: a count, or `auto` for all but the last
 * four, so a range holds ~10,000 numbers whatever the country's number length (+7 701 234
 * for a 10-digit KZ number, the block an operator hands out and a fraud ring rents).
 */
export type RangeDigits = number | 'auto';

/** Digits a range keeps off the end in `auto` mode: 10^4 numbers per range. */
const AUTO_SUFFIX_DIGITS = 4;

/**
 * The number range of an E.164 number: its country calling code and the first `digits`
 * national digits, e.g. `+7701234` for +77012345678. `country` is the ISO code the number
 * was normalized to (its calling code is a table lookup, no parsing).
 */
export function phoneRange(e164: string, country: string, digits: RangeDigits): string {
  const callingCode = getCountryCallingCode(country as CountryCode);
  const national = e164.length - 1 - callingCode.length;
  const keep = digits === 'auto' ? Math.max(1, national - AUTO_SUFFIX_DIGITS) : Math.min(digits, national);
  return e164.slice(0, 1 + callingCode.length + keep);
}
