import { describe, expect, it } from 'vitest';
import { classifyTwilioError, parseRetryAfter, TWILIO_ERROR_CODES } from './errors.js';

describe('classifyTwilioError', () => {
  // The action column of docs/twilio-api.md: retry → transient, fail over → provider, fail → message.
  it.each([
    [429, 20429, 'transient', 'TWILIO_20429'],
    [500, 20500, 'transient', 'TWILIO_20500'],
    [503, 20503, 'transient', 'TWILIO_20503'],
    [401, 20003, 'provider', 'TWILIO_20003'],
    [404, 20404, 'provider', 'TWILIO_20404'],
    [400, 21211, 'message', 'TWILIO_21211'],
    [400, 21614, 'message', 'TWILIO_21614'],
    [400, 21610, 'message', 'TWILIO_21610'],
    [400, 21602, 'message', 'TWILIO_21602'],
    [400, 21603, 'message', 'TWILIO_21603'],
    [400, 21604, 'message', 'TWILIO_21604'],
    [400, 21617, 'message', 'TWILIO_21617'],
    [400, 21408, 'provider', 'TWILIO_21408'],
    [400, 21612, 'provider', 'TWILIO_21612'],
    [400, 21606, 'provider', 'TWILIO_21606'],
    [400, 21608, 'provider', 'TWILIO_21608'],
    [400, 21659, 'provider', 'TWILIO_21659'],
    [400, 21705, 'provider', 'TWILIO_21705'],
    [400, 21611, 'provider', 'TWILIO_21611'],
  ] as const)('%i with %i is %s (%s)', (status, code, scope, expected) => {
    expect(classifyTwilioError(status, code)).toMatchObject({ scope, code: expected });
  });

  it.each([
    // The status decides for these, whatever code the body names.
    [429, undefined, 'transient', 'TWILIO_RATE_LIMITED'],
    [502, undefined, 'transient', 'TWILIO_SERVER_ERROR'],
    [500, 21211, 'transient', 'TWILIO_21211'],
    [408, undefined, 'transient', 'TWILIO_REQUEST_TIMEOUT'],
    [401, undefined, 'provider', 'TWILIO_UNAUTHORIZED'],
    [403, 21211, 'provider', 'TWILIO_21211'],
    [403, undefined, 'provider', 'TWILIO_FORBIDDEN'],
    // Unknown codes: a 400 is the message's (the doc: unknown 2xxxx on the send → fail), and
    // never an unbounded metrics label.
    [400, 21999, 'message', 'TWILIO_REJECTED'],
    [422, undefined, 'message', 'TWILIO_REJECTED'],
    [404, undefined, 'provider', 'TWILIO_NOT_FOUND'],
    [405, 20004, 'provider', 'TWILIO_HTTP_ERROR'],
    [302, undefined, 'provider', 'TWILIO_HTTP_ERROR'],
  ] as const)('%i with %s is %s (%s)', (status, code, scope, expected) => {
    expect(classifyTwilioError(status, code)).toMatchObject({ scope, code: expected });
  });

  it('has a summary for every known code', () => {
    for (const { summary } of Object.values(TWILIO_ERROR_CODES)) expect(summary).toMatch(/\w/);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-12-01T12:00:00Z');
  it.each([
    ['7', 7000],
    [' 0 ', 0],
    ['Tue, 01 Dec 2026 12:00:30 GMT', 30_000],
    ['Tue, 01 Dec 2026 11:00:00 GMT', 0],
    ['', undefined],
    ['-5', undefined],
    ['1.5', undefined],
    ['soon', undefined],
    [null, undefined],
  ])('%o → %o', (value, expected) => {
    expect(parseRetryAfter(value, now)).toBe(expected);
  });
});

describe('classifyTwilioError: destination-only provider errors', () => {
  it.each([21408, 21608, 21612, 21659])('%i fails over without counting against Twilio', (code) => {
    expect(classifyTwilioError(400, code)).toMatchObject({ scope: 'provider', destinationOnly: true });
  });

  it.each([
    [401, 20003],
    [400, 21606],
    [400, 21212],
    [400, 21211],
  ])('%i with %i is not destination-only', (status, code) => {
    expect(classifyTwilioError(status, code)).not.toHaveProperty('destinationOnly');
  });
});
