import { describe, expect, it } from 'vitest';
import { generateCode } from './code.js';
import { checkTemplate, renderTemplate, singleSegmentLimit } from './template.js';

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
    expect(checkTemplate(`${'a'.repeat(150)} {code}`, 6)).toBeUndefined();
  });
});
