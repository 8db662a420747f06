import { describe, expect, it } from 'vitest';
import { REDACTED, redactSecrets } from './redact.js';

const CODE = '516396';
const TEXT = `Ваш код подтверждения: ${CODE}`;
const SECRET = 'whsec-0123456789abcdef0123456789';
const CALLBACK = `https://otp.example.com/webhooks/messaggio/${SECRET}`;
const LOGIN = 'project-login-abc123';
const SECRETS = [CODE, TEXT, CALLBACK, SECRET, LOGIN];

// What providers have been seen to do: echo the request back in their error details.
const HOSTILE_ECHOES: Array<[string, string]> = [
  ['the text as sent', `invalid content: "${TEXT}"`],
  ['the request body as JSON', JSON.stringify({ sms: { content: [{ text: TEXT }] }, dlr: CALLBACK })],
  [
    'JSON with \\u escapes',
    JSON.stringify({ text: TEXT }).replace(
      /[\u0080-\uffff]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
    ),
  ],
  [
    'JSON with upper-case \\u escapes',
    JSON.stringify({ text: TEXT }).replace(
      /[\u0080-\uffff]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`,
    ),
  ],
  [
    'a form body',
    `Body=${encodeURIComponent(TEXT).replace(/%20/g, '+')}&StatusCallback=${encodeURIComponent(CALLBACK)}`,
  ],
  ['a URL-encoded body in lower-case hex', encodeURIComponent(TEXT).toLowerCase()],
  ['the code alone', `code ${CODE} rejected`],
  ['the code glued to punctuation', `(code=${CODE}); value:${CODE}.`],
  ['the code spaced out', `code 5 1 6 3 9 6 rejected`],
  ['the callback URL', `callback ${CALLBACK} unreachable`],
  ['the secret alone', `unknown path segment ${SECRET}`],
  ['the login', `login ${LOGIN} is not allowed`],
  ['everything twice', `${TEXT} ${TEXT} ${CALLBACK}${CALLBACK}`],
];

describe('redactSecrets', () => {
  it.each(HOSTILE_ECHOES)('removes %s', (_what, echo) => {
    const out = redactSecrets(echo, SECRETS);
    expect(out).toContain(REDACTED);
    expect(out).not.toContain(CODE);
    expect(out).not.toMatch(/5\s?1\s?6\s?3\s?9\s?6/);
    expect(out).not.toContain(SECRET);
    expect(out).not.toContain(LOGIN);
    expect(out).not.toContain('подтверждения');
    expect(out.toLowerCase()).not.toContain('%d0%b2');
    expect(out.toLowerCase()).not.toContain('\\u0412'.toLowerCase());
  });

  it('keeps text that holds none of the secrets', () => {
    expect(redactSecrets('Messaggio had a server error (500)', SECRETS)).toBe(
      'Messaggio had a server error (500)',
    );
  });

  it('ignores missing and too-short values instead of blanking the text', () => {
    expect(redactSecrets('a b c', [undefined, '', 'a'])).toBe('a b c');
  });
});
