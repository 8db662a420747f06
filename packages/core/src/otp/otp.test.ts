import { describe, expect, it } from 'vitest';
import { generateCode } from './code.js';
import {
  checkTemplate,
  measureSms,
  pickTemplate,
  renderSms,
  renderTemplate,
  singleSegmentLimit,
} from './template.js';

describe('generateCode', () => {
  it.each([4, 6, 8, 10])('makes %i digits', (length) => {
    for (let i = 0; i < 200; i++) expect(generateCode(length)).toMatch(new RegExp(`^\\d{${length}}$`));
  });

  it('keeps leading zeros and covers every digit position', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 5000; i++) seen.add(generateCode(4)[0] ?? '');
    expect(seen.size).toBe(10);
  });

  it.each([0, 3, 11, 6.5])('refuses length %s', (length) => {
    expect(() => generateCode(length)).toThrow(RangeError);
  });
});

describe('SMS template', () => {
  it('renders every placeholder', () => {
    expect(renderTemplate('Ваш код подтверждения: {code}', '042137')).toBe('Ваш код подтверждения: 042137');
    expect(renderTemplate('{code} is your code ({code})', '1234')).toBe('1234 is your code (1234)');
  });

  it.each([
    ['Your code: 123456', 160],
    ['Ваш код: 123456', 70],
    ['Code 123456 😀', 70],
  ])('%j fits %i characters per segment', (text, limit) => {
    expect(singleSegmentLimit(text)).toBe(limit);
  });

  it('accepts the default template and refuses one without the code or longer than a segment', () => {
    expect(checkTemplate('Ваш код подтверждения: {code}', 6)).toBeUndefined();
    expect(checkTemplate('Ваш код подтверждения', 6)).toMatch(/must contain \{code\}/);
    expect(checkTemplate(`${'Ж'.repeat(70)} {code}`, 6)).toMatch(/holds 70/);
    // 140 + 1 + 6 digits + a newline and an 11-character app hash = 159: one GSM-7 segment.
    expect(checkTemplate(`${'a'.repeat(140)} {code}`, 6)).toBeUndefined();
  });
});

describe('SMS segments (issue 12)', () => {
  it.each([
    ['a'.repeat(160), 'GSM-7', 160, 1],
    ['a'.repeat(161), 'GSM-7', 161, 2],
    // Extension characters (€ [ ] { } ~ ^ | \\) take two septets each.
    [`${'a'.repeat(159)}€`, 'GSM-7', 161, 2],
    [`${'a'.repeat(158)}€`, 'GSM-7', 160, 1],
    ['Ж'.repeat(70), 'UCS-2', 70, 1],
    ['Ж'.repeat(71), 'UCS-2', 71, 2],
    // One Cyrillic letter turns a Latin text into UCS-2.
    [`${'a'.repeat(69)}Ж`, 'UCS-2', 70, 1],
    [`${'a'.repeat(70)}Ж`, 'UCS-2', 71, 2],
  ])('%j is %s, %i characters, %i segment(s)', (text, encoding, characters, segments) => {
    expect(measureSms(text)).toMatchObject({ encoding, characters, segments });
  });

  it('refuses at start-up a template that would split, naming the variable and the length', () => {
    // 52 + 6 digits + "\n@example.com #123456" (21) = 79 characters of UCS-2: two segments.
    const template = `${'Ж'.repeat(51)} {code}`;
    expect(checkTemplate(template, 6)).toBeUndefined();
    expect(checkTemplate(template, 6, { name: 'SMS_TEMPLATE_RU', origin: 'example.com' })).toBe(
      'SMS_TEMPLATE_RU renders to 79 characters with the OTP_ORIGIN line (a 6-digit code); one SMS segment holds 70 in UCS-2, so each SMS would cost 2 segments',
    );
    // The app hash line (12 characters) is counted too: any request may carry one.
    expect(checkTemplate(`${'Ж'.repeat(52)} {code}`, 6)).toMatch(
      /^SMS_TEMPLATE renders to 71 characters with an app_hash line/,
    );
    // GSM-7 extension characters count twice.
    // 70 × 2 + 7 = 147, and 159 with an app hash line: still one segment.
    expect(checkTemplate(`${'{'.repeat(70)} {code}`, 6)).toBeUndefined();
    expect(checkTemplate(`${'{'.repeat(71)} {code}`, 6)).toMatch(
      /renders to 161 characters with an app_hash line/,
    );
  });
});

describe('SMS text: autofill and locales (issue 12)', () => {
  it('ends with the origin-bound line exactly as the WebOTP spec writes it', () => {
    expect(renderSms({ template: 'Your code: {code}', code: '123456', origin: 'example.com' })).toBe(
      'Your code: 123456\n@example.com #123456',
    );
  });

  it('ends with the app hash instead of the origin line when a request carries one', () => {
    expect(
      renderSms({
        template: 'Your code: {code}',
        code: '123456',
        origin: 'example.com',
        appHash: 'FA+9qCX9VSu',
      }),
    ).toBe('Your code: 123456\nFA+9qCX9VSu');
    expect(renderSms({ template: 'Your code: {code}', code: '123456' })).toBe('Your code: 123456');
  });

  const templates = { default: 'default {code}', byLocale: { kk: 'kk {code}', en: 'en {code}' } };
  it.each([
    [{ locale: 'en', country: 'KZ' }, 'en {code}'],
    [{ locale: 'kk', country: 'RU' }, 'kk {code}'],
    // No template for ru: the country decides, then the default.
    [{ locale: 'ru', country: 'KZ' }, 'kk {code}'],
    [{ locale: 'ru', country: 'RU' }, 'default {code}'],
    [{ country: 'KZ' }, 'kk {code}'],
    [{ country: 'RU' }, 'default {code}'],
    [{ country: 'US' }, 'default {code}'],
  ])('%j picks %j', (input, expected) => {
    expect(pickTemplate(templates, input)).toBe(expected);
  });
});
