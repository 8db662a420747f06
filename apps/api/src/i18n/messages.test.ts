import { describe, expect, it } from 'vitest';
import { englishMessage, localizedMessage, MESSAGES, pickLanguage } from './messages.js';

describe('pickLanguage (Accept-Language)', () => {
  it.each([
    [undefined, undefined],
    ['', undefined],
    ['*', undefined],
    ['de', undefined],
    ['de-DE, fr;q=0.8, *;q=0.1', undefined],
    ['ru', 'ru'],
    ['ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7', 'ru'],
    ['kk-KZ', 'kk'],
    ['KK', 'kk'],
    ['en-US,en;q=0.9', 'en'],
    ['de, en;q=0.5', 'en'],
    ['en;q=0.5, kk;q=0.8', 'kk'],
    ['ru;q=0, en;q=0.1', 'en'],
    ['ru;q=0', undefined],
  ])('%j -> %s', (header, expected) => {
    expect(pickLanguage(header)).toBe(expected);
  });
});

describe('message catalog', () => {
  it('keeps today’s wording by default and fills in parameters', () => {
    expect(localizedMessage('send.ok', undefined)).toBe('SMS код отправлен успешно');
    expect(localizedMessage('verify.ok', undefined)).toBe('Код подтвержден');
    expect(englishMessage('RESEND_TOO_SOON', { retry_after: 42 })).toBe(
      'A code was sent to this number recently; ask again in 42 s.',
    );
    expect(englishMessage('OTP_INVALID', { attempts_left: 2 })).toBe('Wrong code; 2 attempt(s) left.');
    expect(localizedMessage('OTP_INVALID', 'ru', { attempts_left: 0 })).toBe(
      'Неверный код; попыток не осталось, запросите новый код.',
    );
  });

  it('has a Russian and a Kazakh sentence for every entry', () => {
    for (const [key, entry] of Object.entries(MESSAGES)) {
      for (const language of ['ru', 'kk'] as const) {
        expect(entry[language]({ retry_after: 5, attempts_left: 1 }), `${key}.${language}`).toMatch(/\S/);
      }
    }
  });

  it('answers undefined for a code it has no sentence for, so the thrown message stays', () => {
    expect(localizedMessage('VALIDATION_ERROR', 'ru')).toBeUndefined();
    expect(localizedMessage('PHONE_INVALID', 'en')).toBeUndefined();
  });
});
