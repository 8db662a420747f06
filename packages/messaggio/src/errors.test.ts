import { describe, expect, it } from 'vitest';
import {
  classifyStatus,
  isMessaggioError,
  MessaggioError,
  type MessaggioErrorCode,
  parseRetryAfter,
} from './errors.js';

describe('classifyStatus', () => {
  const table: [status: number, code: MessaggioErrorCode, retryable: boolean][] = [
    [200, 'MESSAGGIO_BAD_RESPONSE', true],
    [202, 'MESSAGGIO_BAD_RESPONSE', true],
    [204, 'MESSAGGIO_BAD_RESPONSE', true],
    [302, 'MESSAGGIO_HTTP_ERROR', false],
    [400, 'MESSAGGIO_BAD_REQUEST', false],
    [401, 'MESSAGGIO_UNAUTHORIZED', false],
    [402, 'MESSAGGIO_NO_BALANCE', false],
    [403, 'MESSAGGIO_FORBIDDEN', false],
    [404, 'MESSAGGIO_NOT_FOUND', false],
    [408, 'MESSAGGIO_REQUEST_TIMEOUT', true],
    [409, 'MESSAGGIO_HTTP_ERROR', false],
    [418, 'MESSAGGIO_HTTP_ERROR', false],
    [422, 'MESSAGGIO_BAD_REQUEST', false],
    [429, 'MESSAGGIO_RATE_LIMITED', true],
    [500, 'MESSAGGIO_SERVER_ERROR', true],
    [501, 'MESSAGGIO_SERVER_ERROR', true],
    [502, 'MESSAGGIO_SERVER_ERROR', true],
    [503, 'MESSAGGIO_SERVER_ERROR', true],
    [504, 'MESSAGGIO_SERVER_ERROR', true],
    [599, 'MESSAGGIO_SERVER_ERROR', true],
    [600, 'MESSAGGIO_HTTP_ERROR', false],
  ];

  it.each(table)('%i is %s (retryable: %s)', (status, code, retryable) => {
    expect(classifyStatus(status)).toEqual({ code, retryable });
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-08-14T10:51:42Z');

  it.each([
    ['7', 7000],
    [' 120 ', 120_000],
    ['0', 0],
  ])('reads delay-seconds %j as %i ms', (value, expected) => {
    expect(parseRetryAfter(value, now)).toBe(expected);
  });

  it('reads an IMF-fixdate as the milliseconds until then', () => {
    expect(parseRetryAfter('Fri, 14 Aug 2026 10:52:12 GMT', now)).toBe(30_000);
  });

  it('reads an RFC 850 date too', () => {
    expect(parseRetryAfter('Friday, 14-Aug-26 10:51:52 GMT', now)).toBe(10_000);
  });

  it('gives 0 for a date already past, so the caller retries now rather than never', () => {
    expect(parseRetryAfter('Fri, 14 Aug 2026 10:00:00 GMT', now)).toBe(0);
  });

  it.each([
    [undefined],
    [null],
    [''],
    ['soon'],
    ['-5'],
    ['-1'],
    ['1.5'],
    ['7s'],
    ['Fri, 99 Foo 2026 GMT'],
    ['tomorrow'],
  ])('gives undefined for %j', (value) => {
    expect(parseRetryAfter(value, now)).toBeUndefined();
  });

  it('defaults now to the current time', () => {
    const inTenSeconds = new Date(Date.now() + 10_000).toUTCString();
    const ms = parseRetryAfter(inTenSeconds);
    expect(ms).toBeGreaterThan(8000);
    expect(ms).toBeLessThanOrEqual(10_000);
  });
});

describe('MessaggioError', () => {
  it('carries its code, status and Messaggio fields, and keeps the cause', () => {
    const cause = new Error('socket hang up');
    const err = new MessaggioError({
      code: 'MESSAGGIO_RATE_LIMITED',
      retryable: true,
      status: 429,
      retryAfterMs: 7000,
      title: 'Too Many Requests',
      detail: 'slow down',
      message: 'Messaggio is rate limiting our sends (429 Too Many Requests): slow down',
      cause,
    });
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('MessaggioError');
    expect(err).toMatchObject({
      code: 'MESSAGGIO_RATE_LIMITED',
      retryable: true,
      status: 429,
      retryAfterMs: 7000,
      title: 'Too Many Requests',
      detail: 'slow down',
    });
    expect(err.cause).toBe(cause);
  });
});

describe('isMessaggioError', () => {
  it('accepts a MessaggioError', () => {
    expect(
      isMessaggioError(new MessaggioError({ code: 'MESSAGGIO_NETWORK', retryable: true, message: 'x' })),
    ).toBe(true);
  });

  it('accepts one from another copy of the module (same name, code and retryable)', () => {
    const foreign = Object.assign(new Error('x'), {
      name: 'MessaggioError',
      code: 'MESSAGGIO_TIMEOUT',
      retryable: true,
    });
    expect(isMessaggioError(foreign)).toBe(true);
  });

  it.each([
    ['a plain Error', new Error('x')],
    [
      'an Error named MessaggioError without a code',
      Object.assign(new Error('x'), { name: 'MessaggioError' }),
    ],
    ['a plain object', { name: 'MessaggioError', code: 'MESSAGGIO_TIMEOUT', retryable: true }],
    ['null', null],
    ['a string', 'MessaggioError'],
  ])('rejects %s', (_label, value) => {
    expect(isMessaggioError(value)).toBe(false);
  });
});
