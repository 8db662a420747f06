import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';
import { maskUrlPassword, redactWebhookPaths } from './redact.js';

describe('maskUrlPassword', () => {
  it.each([
    ['redis://:hunter2@redis:6379/0', 'redis://:***@redis:6379/0'],
    ['rediss://default:p%40ss@cache.example.com:6380', 'rediss://default:***@cache.example.com:6380'],
    [
      'connect ECONNREFUSED redis://u:pw@10.0.0.1:6379 failed',
      'connect ECONNREFUSED redis://u:***@10.0.0.1:6379 failed',
    ],
  ])('%s', (input, output) => {
    expect(maskUrlPassword(input)).toBe(output);
  });

  it('leaves URLs without a password alone', () => {
    for (const url of ['redis://127.0.0.1:6379', 'redis://user@host:6379', 'mail me at a@b.c']) {
      expect(maskUrlPassword(url)).toBe(url);
    }
  });
});

describe('redactWebhookPaths', () => {
  it.each([
    ['GET /webhooks/messaggio/s3cret-value-0123456789', 'GET /webhooks/messaggio/[redacted]'],
    ['/webhooks/messaggio/s3cret/longer/path?x=1', '/webhooks/messaggio/[redacted]?x=1'],
    ['"url":"/webhooks/s3cret"', '"url":"/webhooks/[redacted]"'],
    ['/webhooks/messaggio/', '/webhooks/messaggio/'],
  ])('%s', (input, output) => {
    expect(redactWebhookPaths(input)).toBe(output);
  });
});

describe('createLogger', () => {
  it('masks URL passwords and webhook secrets in every line', () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const log = createLogger({ service: 't', stream });
    log.error({ err: new Error('cannot reach redis://:hunter2@db:6379') }, 'redis down');
    log.info({ req: { url: '/webhooks/messaggio/s3cret-0123456789abcdef0123456789' } }, 'incoming request');
    const text = lines.join('');
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('s3cret');
    expect(text).toContain('redis://:***@db:6379');
    expect(text).toContain('/webhooks/messaggio/[redacted]');
  });
});
