import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Env } from '@otp/core';
import { createFakeMessaggio, type FakeMessaggio } from '@otp/messaggio/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EXIT, runMessaggioCheck } from '../src/diagnostics/messaggio-check.js';

const LOGIN = 'check-project-login';
const SENDER = 'OTPCHECK';

let fake: FakeMessaggio;
beforeAll(async () => {
  fake = await createFakeMessaggio({ logins: [LOGIN], senders: [SENDER] });
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => {
  fake.reset();
});

/** Runs the check in-process and returns its exit code and everything it printed. */
async function check(env: Env, argv: string[] = [], fetchImpl?: typeof fetch) {
  let output = '';
  const code = await runMessaggioCheck({
    env,
    argv,
    out: { write: (text: string) => (output += text) },
    fetch: fetchImpl,
  });
  return { code, output, lastLine: output.trim().split('\n').at(-1) ?? '' };
}

const configured = (overrides: Env = {}): Env => ({
  MESSAGGIO_API_KEY: LOGIN,
  OTP_SECRET: 'check-test-secret-0123456789abcdef0123456789',
  MESSAGGIO_SENDER: SENDER,
  MESSAGGIO_BASE_URL: fake.baseUrl,
  // Generous: on a loaded machine a first request (a fresh process's especially) can take
  // seconds; the one test about timeouts sets its own.
  MESSAGGIO_TIMEOUT_MS: '10000',
  ...overrides,
});

describe('pnpm messaggio:check', () => {
  it('passes with a working setup, sending nothing without --send', async () => {
    const { code, output } = await check(configured());
    expect(code).toBe(EXIT.ok);
    expect(output).toContain('OK    config: every worker variable is valid');
    expect(output).toContain('debug mode is off');
    expect(output).toMatch(/OK {4}reach: Messaggio answers at .* and accepts the login/);
    expect(output).toContain('All checks passed.');
    expect(fake.sent).toHaveLength(0);
    // The probe is one empty request carrying the login; the login is never printed.
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]?.headers['messaggio-login']).toBe(LOGIN);
    expect(output).not.toContain(LOGIN);
  });

  it('sends one real SMS with --phone … --send and prints what Messaggio answered', async () => {
    const { code, output } = await check(configured({ SMS_TEMPLATE: 'Code {code}' }), [
      '--phone',
      '8 (708) 804-34-14',
      '--send',
    ]);
    expect(code).toBe(EXIT.ok);
    expect(fake.sent).toHaveLength(1);
    const [sms] = fake.sent;
    expect(sms?.phone).toBe('77088043414');
    expect(sms?.sender).toBe(SENDER);
    expect(sms?.text).toMatch(/^Code \d{6}$/);
    expect(output).toContain(`message_id ${sms?.messageId}`);
    expect(output).toMatch(/accepted_at \S+/);
    expect(output).toContain('+77088043414');
  });

  it('names the fix for a login Messaggio refuses (403)', async () => {
    const { code, output, lastLine } = await check(configured({ MESSAGGIO_API_KEY: 'not-the-login' }));
    expect(code).toBe(EXIT.failed);
    expect(output).toContain(
      'FAIL  reach: Messaggio answered 403: Forbidden: The Messaggio-Login header is not a known project login.\n',
    );
    expect(lastLine).toMatch(/^Fix: MESSAGGIO_API_KEY is not a project login Messaggio accepts/);
    expect(output).not.toContain('not-the-login');
    expect(fake.sent).toHaveLength(0);
  });

  it('names the fix for a sender Messaggio has not approved', async () => {
    const { code, output, lastLine } = await check(configured({ MESSAGGIO_SENDER: 'NOTAPPROVED' }), [
      '--phone',
      '+77088043414',
      '--send',
    ]);
    expect(code).toBe(EXIT.failed);
    expect(output).toMatch(/OK {4}reach/); // the login is fine: only the send fails
    expect(output).toMatch(/FAIL {2}send: Messaggio answered 400: Sender "NOTAPPROVED" is not approved/);
    expect(lastLine).toMatch(/^Fix: MESSAGGIO_SENDER "NOTAPPROVED" is not an approved sender/);
    expect(fake.sent).toHaveLength(0);
  });

  it('names the fix when nothing listens at the host', async () => {
    // A port that was free a moment ago (not port 1: fetch refuses such ports outright).
    const closed = await createFakeMessaggio();
    await closed.close();
    const { code, output, lastLine } = await check(configured({ MESSAGGIO_BASE_URL: closed.baseUrl }));
    expect(code).toBe(EXIT.failed);
    expect(output).toContain(
      `FAIL  reach: Nothing accepts connections at 127.0.0.1:${closed.port} (ECONNREFUSED).`,
    );
    expect(lastLine).toMatch(/^Fix: Check the host and port in MESSAGGIO_BASE_URL/);
  });

  it('names the fix when the host name does not resolve', async () => {
    // DNS cannot be made to fail on demand here, so fetch fails the way undici does.
    const dnsFailure: typeof fetch = async () => {
      throw new TypeError('fetch failed', {
        cause: Object.assign(new Error('getaddrinfo ENOTFOUND msg.messagio.com'), { code: 'ENOTFOUND' }),
      });
    };
    const { code, output, lastLine } = await check(
      configured({ MESSAGGIO_BASE_URL: 'https://msg.messagio.com/api/v1' }),
      [],
      dnsFailure,
    );
    expect(code).toBe(EXIT.failed);
    expect(output).toContain('FAIL  reach: The name msg.messagio.com does not resolve (DNS ENOTFOUND).');
    expect(lastLine).toMatch(/^Fix: Check the host in MESSAGGIO_BASE_URL for typos/);
  });

  it('names the fix when Messaggio does not answer in time', async () => {
    fake.setMode({ kind: 'hang' });
    const { code, output, lastLine } = await check(configured({ MESSAGGIO_TIMEOUT_MS: '150' }));
    expect(code).toBe(EXIT.failed);
    expect(output).toContain('Messaggio did not answer within 150 ms');
    expect(lastLine).toMatch(/^Fix: Make sure this machine may open HTTPS connections/);
  });

  it('names a base URL without /api/v1 (404)', async () => {
    const { code, lastLine } = await check(
      configured({ MESSAGGIO_BASE_URL: fake.baseUrl.replace('/api/v1', '/v2') }),
    );
    expect(code).toBe(EXIT.failed);
    expect(lastLine).toMatch(/^Fix: MESSAGGIO_BASE_URL must be the API root ending in \/api\/v1/);
  });

  it('says debug mode is on when no key is set, and fails', async () => {
    const { code, output, lastLine } = await check({ MESSAGGIO_BASE_URL: fake.baseUrl, OTP_DEBUG: 'true' });
    expect(code).toBe(EXIT.failed);
    expect(output).toContain('debug mode is ON');
    expect(lastLine).toMatch(/^Fix: set MESSAGGIO_API_KEY \(the project login\) and MESSAGGIO_SENDER/);
    expect(fake.requests).toHaveLength(0);
  });

  it('names every bad variable', async () => {
    const { code, output, lastLine } = await check({
      MESSAGGIO_API_KEY: LOGIN,
      MESSAGGIO_BASE_URL: 'ftp://example.com',
      MESSAGGIO_TIMEOUT_MS: 'soon',
    });
    expect(code).toBe(EXIT.failed);
    expect(output).toMatch(/FAIL {2}config: MESSAGGIO_BASE_URL/);
    expect(output).toMatch(/FAIL {2}config: MESSAGGIO_TIMEOUT_MS/);
    expect(lastLine).toMatch(/^Fix: correct the variables named above/);
  });

  it('names a key without a sender', async () => {
    const { code, output } = await check({ MESSAGGIO_API_KEY: LOGIN });
    expect(code).toBe(EXIT.failed);
    expect(output).toMatch(/FAIL {2}config: MESSAGGIO_SENDER: is required with MESSAGGIO_API_KEY/);
  });

  it('reads an --env-file, the environment winning', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'messaggio-check-'));
    try {
      const file = join(dir, '.env');
      writeFileSync(
        file,
        `MESSAGGIO_API_KEY=${LOGIN}\nMESSAGGIO_SENDER=WRONG\nMESSAGGIO_BASE_URL=${fake.baseUrl}\nOTP_SECRET=check-test-secret-0123456789abcdef0123456789\n`,
      );
      const { code, output } = await check({ MESSAGGIO_SENDER: SENDER }, ['--env-file', file]);
      expect(code).toBe(EXIT.ok);
      expect(output).toContain(`sender "${SENDER}"`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names a missing --env-file and exits 2, also after the "--" pnpm passes on', async () => {
    for (const argv of [
      ['--env-file', '/nonexistent/.env'],
      ['--', '--env-file', '/nonexistent/.env'],
    ]) {
      const { code, output } = await check(configured(), argv);
      expect(code).toBe(EXIT.usage);
      expect(output).toContain('--env-file /nonexistent/.env: no such file.');
      expect(fake.requests).toHaveLength(0);
    }
  });

  it.each([
    [['--send'], /--send needs --phone/],
    [['--bogus'], /Unknown option '--bogus'/],
  ])('refuses bad arguments %j with exit code 2', async (argv, message) => {
    const { code, output } = await check(configured(), argv);
    expect(code).toBe(EXIT.usage);
    expect(output).toMatch(message);
    expect(output).toContain('Usage: pnpm messaggio:check');
    expect(fake.requests).toHaveLength(0);
  });
});

describe('the messaggio:check entry, as a process', () => {
  const entry = join(import.meta.dirname, '../src/bin/messaggio-check.ts');
  async function runEntry(env: Env, args: string[] = []) {
    const child = spawn(process.execPath, ['--conditions=@otp/source', '--import', 'tsx', entry, ...args], {
      env: { PATH: process.env.PATH ?? '', ...env } as NodeJS.ProcessEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString();
    });
    const [code] = await once(child, 'exit');
    return { code, output };
  }

  it('exits 0 when all is well and 1 with a fix when not', async () => {
    const good = await runEntry(configured());
    expect(good.code).toBe(0);
    expect(good.output).toContain('All checks passed.');
    const bad = await runEntry(configured({ MESSAGGIO_API_KEY: 'wrong' }));
    expect(bad.code).toBe(1);
    expect(bad.output.trim().split('\n').at(-1)).toMatch(/^Fix: MESSAGGIO_API_KEY is not a project login/);
  });

  it('exits 2 naming a missing --env-file, with the "--" that keeps Node from reading it', async () => {
    const missing = join(tmpdir(), 'messaggio-check-no-such-dir', '.env');
    const { code, output } = await runEntry(configured(), ['--', '--env-file', missing]);
    expect(code).toBe(2);
    expect(output).toContain(`--env-file ${missing}: no such file.`);
  });
});
