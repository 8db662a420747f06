import { isSupportedCountry, parsePhoneNumberFromString } from 'libphonenumber-js/max';

export interface NormalizedPhone {
  /** E.164, e.g. `+77088043414`: the one key used everywhere (Redis, jobs, logs masked). */
  e164: string;
  /** ISO 3166-1 alpha-2, e.g. `KZ` or `RU`. */
  country: string;
}

export type PhoneRejection =
  | { ok: false; code: 'PHONE_INVALID'; reason: string }
  | { ok: false; code: 'COUNTRY_NOT_ALLOWED'; reason: string; country: string };

export type NormalizeResult = ({ ok: true } & NormalizedPhone) | PhoneRejection;

export interface NormalizeOptions {
  /** ISO country codes that may receive codes. */
  allowedCountries: readonly string[];
}

// What people put between digits when they type a number. Anything else (letters,
// non-ASCII digits, punctuation such as '*' or '#') makes the input invalid rather than
// being silently dropped: "+7 708 ABC 3414" must not become a different, valid number.
const SEPARATORS = /[\s\u00a0\u2010-\u2015().\-/]/g;
const ONLY_DIGITS = /^\d+$/;

// Mobile-capable types. FIXED_LINE_OR_MOBILE is how libphonenumber labels countries
// (US, CN, ...) whose numbering plan cannot tell the two apart.
const MOBILE_TYPES = new Set(['MOBILE', 'FIXED_LINE_OR_MOBILE']);

const invalid = (reason: string): PhoneRejection => ({ ok: false, code: 'PHONE_INVALID', reason });

/**
 * Candidate E.164 strings for what a person typed, most likely first. Russia and
 * Kazakhstan share +7, and people there write the trunk prefix 8 instead of +7, drop the
 * country code entirely (10 digits), or write +8 by mistake.
 */
function candidates(hasPlus: boolean, digits: string): string[] {
  if (hasPlus) {
    // "+8 916 ..." is a common slip for +7; try the number as written first so a real
    // +8x country (Vietnam +84, China +86, ...) keeps its meaning.
    return digits.length === 11 && digits.startsWith('8')
      ? [`+${digits}`, `+7${digits.slice(1)}`]
      : [`+${digits}`];
  }
  if (digits.length === 11 && digits.startsWith('8')) return [`+7${digits.slice(1)}`];
  if (digits.length === 11 && digits.startsWith('7')) return [`+${digits}`];
  if (digits.length === 10) return [`+7${digits}`];
  return [`+${digits}`];
}

/**
 * Turns what a person typed into E.164, or says precisely why it cannot.
 * Validation, the RU/KZ split and the mobile check come from libphonenumber's metadata.
 */
export function normalizePhone(input: string, options: NormalizeOptions): NormalizeResult {
  const trimmed = input.trim();
  const hasPlus = trimmed.startsWith('+');
  const digits = (hasPlus ? trimmed.slice(1) : trimmed).replace(SEPARATORS, '');
  if (digits.length === 0) return invalid('The phone number is empty.');
  if (!ONLY_DIGITS.test(digits)) {
    return invalid(
      'The phone number may contain only digits, spaces, dashes, dots, brackets and a leading +.',
    );
  }
  if (digits.length < 10) return invalid('The phone number is too short.');
  if (digits.length > 15) return invalid('The phone number is too long.');

  let firstValid: ReturnType<typeof parsePhoneNumberFromString>;
  for (const candidate of candidates(hasPlus, digits)) {
    const parsed = parsePhoneNumberFromString(candidate);
    if (parsed?.isValid()) {
      firstValid = parsed;
      break;
    }
  }
  if (!firstValid?.country) return invalid('This is not a valid phone number.');

  const country = firstValid.country;
  if (!options.allowedCountries.includes(country)) {
    return {
      ok: false,
      code: 'COUNTRY_NOT_ALLOWED',
      country,
      reason: `Phone numbers from ${country} are not served (allowed: ${options.allowedCountries.join(', ')}).`,
    };
  }
  const type = firstValid.getType();
  if (!type || !MOBILE_TYPES.has(type)) {
    return invalid('This number cannot receive SMS: it is not a mobile number.');
  }
  return { ok: true, e164: firstValid.number, country };
}

/** True when `code` is an ISO country code libphonenumber has metadata for (checks ALLOWED_COUNTRIES). */
export function isKnownCountry(code: string): boolean {
  return isSupportedCountry(code);
}
