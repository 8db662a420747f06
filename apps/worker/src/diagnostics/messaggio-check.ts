import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs, parseEnv as parseDotenv } from 'node:util';
import { ConfigError, type Env, generateCode, normalizePhone, renderTemplate } from '@otp/core';
import { createMessaggioClient, isMessaggioError, type MessaggioError } from '@otp/messaggio';
import { loadWorkerConfig } from '../config.js';

export interface MessaggioCheckOptions {
  /** The environment the worker would run with (process.env in the entry). */
  env: Env;
  /** Arguments after the script name: `--phone +7… --send`, `--env-file .env`, `--help`. */
  argv: readonly string[];
  /** Where the report goes (stdout in the entry). */
  out: { write(text: string): unknown };
  /** For tests of failures no local server can produce (DNS). @defaultValue globalThis.fetch */
  fetch?: typeof fetch;
}

/** Exit codes: everything works; a check failed; the command line was wrong. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

const DEFAULT_BASE_URL = 'https://msg.messaggio.com/api/v1';
const USAGE = `Usage: pnpm messaggio:check [-- --env-file PATH] [--phone +77011234567 --send]

Checks the worker's configuration and that Messaggio answers with the configured login.
./.env is read when present; the environment wins over any file.
  --env-file PATH   read variables from PATH too (after "--": Node itself reads a bare --env-file)
  --phone NUMBER    a phone to send one test SMS to (needs --send)
  --send            really send that SMS (it costs one SMS)
Exit code: 0 all good, 1 a check failed, 2 bad arguments.
`;

/** A finding that ends the check, with the plain sentence that says what to fix. */
class CheckFailure extends Error {
  constructor(
    readonly what: string,
    readonly fix: string,
  ) {
    super(what);
  }
}

/** The first operating-system error code (ENOTFOUND, ECONNREFUSED, …) under a fetch failure. */
function systemErrorCode(err: unknown): string | undefined {
  const seen = new Set<unknown>();
  const queue: unknown[] = [err];
  while (queue.length > 0) {
    const next = queue.shift();
    if (typeof next !== 'object' || next === null || seen.has(next)) continue;
    seen.add(next);
    const { code, cause, errors } = next as { code?: unknown; cause?: unknown; errors?: unknown };
    if (typeof code === 'string' && !code.startsWith('MESSAGGIO_')) return code;
    queue.push(cause);
    if (Array.isArray(errors)) queue.push(...errors);
  }
  return undefined;
}

/** Why a connection could not be made, and what to do about it. */
function connectionFailure(err: MessaggioError, baseUrl: string, timeoutMs: number): CheckFailure {
  const { host } = new URL(baseUrl);
  if (err.code === 'MESSAGGIO_TIMEOUT') {
    return new CheckFailure(
      `Messaggio did not answer within ${timeoutMs} ms (MESSAGGIO_TIMEOUT_MS).`,
      `Make sure this machine may open HTTPS connections to ${host} (firewall, proxy), or raise MESSAGGIO_TIMEOUT_MS if the network is just slow.`,
    );
  }
  const code = systemErrorCode(err);
  switch (code) {
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
      return new CheckFailure(
        `The name ${host} does not resolve (DNS ${code}).`,
        `Check the host in MESSAGGIO_BASE_URL for typos and that this machine's DNS works (try: getent hosts ${host}).`,
      );
    case 'ECONNREFUSED':
      return new CheckFailure(
        `Nothing accepts connections at ${host} (${code}).`,
        'Check the host and port in MESSAGGIO_BASE_URL; if it points at a local fake Messaggio, start it first (pnpm fake-messaggio).',
      );
    case 'ETIMEDOUT':
    case 'ENETUNREACH':
    case 'EHOSTUNREACH':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return new CheckFailure(
        `${host} cannot be reached from this machine (${code}).`,
        `Open outbound HTTPS to ${host} in the firewall, or set up the proxy this network requires.`,
      );
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return new CheckFailure(
        `The connection to ${host} was cut before Messaggio answered (${code}).`,
        'Try again; if it keeps happening, a proxy or firewall is closing the connection.',
      );
    default:
      if (code && /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code)) {
        return new CheckFailure(
          `The TLS certificate of ${host} was not accepted (${code}).`,
          'If this network intercepts HTTPS, give Node its CA with NODE_EXTRA_CA_CERTS=/path/to/ca.pem; otherwise check MESSAGGIO_BASE_URL.',
        );
      }
      return new CheckFailure(
        err.message,
        `Check that this machine can reach ${host} (network, DNS, firewall) and that MESSAGGIO_BASE_URL is right.`,
      );
  }
}

/**
 * The phone as the API would store it. The check serves any country the number is valid in
 * (ALLOWED_COUNTRIES is the API's business): only invalid or landline numbers are refused.
 */
function toE164(input: string): string | undefined {
  const first = normalizePhone(input, { allowedCountries: ['RU', 'KZ'] });
  if (first.ok) return first.e164;
  if (first.code !== 'COUNTRY_NOT_ALLOWED') return undefined;
  const again = normalizePhone(input, { allowedCountries: [first.country] });
  return again.ok ? again.e164 : undefined;
}

/** Messaggio answered, but not with what a working setup gets. */
function answerFailure(
  status: number,
  said: string,
  context: { sender: string; isSend: boolean },
): CheckFailure {
  // Messaggio's detail usually ends in a full stop already.
  const told = said.replace(/[\s.]+$/, '');
  const what = `Messaggio answered ${status}${told ? `: ${told}` : ''}.`;
  if (status === 401 || status === 403) {
    return new CheckFailure(
      what,
      'MESSAGGIO_API_KEY is not a project login Messaggio accepts: copy it again from the dashboard (Settings → Projects → API settings), without spaces or quotes.',
    );
  }
  if (status === 402) {
    return new CheckFailure(what, 'The Messaggio balance is used up: top it up in the dashboard.');
  }
  if (status === 404) {
    return new CheckFailure(
      what,
      `MESSAGGIO_BASE_URL must be the API root ending in /api/v1 (normally ${DEFAULT_BASE_URL}).`,
    );
  }
  if (status === 429) {
    return new CheckFailure(
      what,
      'Messaggio is rate limiting this login: wait a minute and run the check again.',
    );
  }
  if (status >= 500) {
    return new CheckFailure(
      what,
      'Messaggio itself is in trouble: try again later, and ask Messaggio support if it lasts.',
    );
  }
  if (context.isSend && (status === 400 || status === 422) && /sender|from/i.test(said)) {
    return new CheckFailure(
      what,
      `MESSAGGIO_SENDER "${context.sender}" is not an approved sender for this project: use the "Sender Code for API" from the dashboard (not the display name), and wait until Messaggio approves it.`,
    );
  }
  if (context.isSend && (status === 400 || status === 422)) {
    return new CheckFailure(
      what,
      'Messaggio refused the request: check MESSAGGIO_SENDER and SMS_TEMPLATE against what the dashboard allows, then read the detail above.',
    );
  }
  return new CheckFailure(what, 'This answer is unexpected: check MESSAGGIO_BASE_URL points at Messaggio.');
}

/**
 * `pnpm messaggio:check`: configuration, debug mode, reachability and the login, and with
 * `--phone … --send` one real SMS. Every failure ends with a sentence saying what to fix.
 * Returns the exit code; writes only to `out`.
 */
export async function runMessaggioCheck(options: MessaggioCheckOptions): Promise<number> {
  const say = (line: string) => options.out.write(`${line}\n`);
  const ok = (step: string, text: string) => say(`OK    ${step}: ${text}`);
  const info = (step: string, text: string) => say(`INFO  ${step}: ${text}`);
  const fail = (step: string, failure: CheckFailure) => {
    say(`FAIL  ${step}: ${failure.what}`);
    say(`Fix: ${failure.fix}`);
    return EXIT.failed;
  };

  let args: { phone?: string; send?: boolean; 'env-file'?: string; help?: boolean };
  try {
    args = parseArgs({
      // `pnpm messaggio:check -- --env-file x` passes the `--` on: Node itself reads an
      // `--env-file` anywhere before a `--`, even after the script, and stops with
      // "node: x: not found" (exit 9) before this code runs (nodejs/node#54232).
      args: options.argv[0] === '--' ? options.argv.slice(1) : [...options.argv],
      options: {
        phone: { type: 'string' },
        send: { type: 'boolean' },
        'env-file': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    say(`${err instanceof Error ? err.message : String(err)}\n`);
    say(USAGE);
    return EXIT.usage;
  }
  if (args.help) {
    say(USAGE);
    return EXIT.ok;
  }
  if (args.send && !args.phone) {
    say('--send needs --phone: the number to send the test SMS to.\n');
    say(USAGE);
    return EXIT.usage;
  }

  let env = options.env;
  const envFile = args['env-file'];
  if (envFile) {
    let text: string;
    try {
      text = readFileSync(envFile, 'utf8');
    } catch (err) {
      // A wrong path is a wrong argument (exit 2), not a failed check.
      const reason =
        (err as NodeJS.ErrnoException).code === 'ENOENT'
          ? 'no such file'
          : err instanceof Error
            ? err.message
            : String(err);
      say(`--env-file ${envFile}: ${reason}.`);
      say(
        'Give --env-file the path of an existing .env file (copy .env.example to .env and edit it), or leave it out: pnpm messaggio:check reads ./.env when there is one.\n',
      );
      say(USAGE);
      return EXIT.usage;
    }
    // Like node --env-file: a variable already in the environment wins over the file.
    env = { ...parseDotenv(text), ...options.env };
    info('env', `read ${envFile}`);
  }

  // 1. The configuration, exactly as a worker would read it.
  let config: ReturnType<typeof loadWorkerConfig>;
  try {
    config = loadWorkerConfig(env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const problem of err.problems) say(`FAIL  config: ${problem}`);
    say(
      'Fix: correct the variables named above (.env.example lists each with its default), then run the check again.',
    );
    return EXIT.failed;
  }
  ok('config', 'every worker variable is valid');

  // 2. Debug mode: no key, so no SMS at all.
  if (!config.messaggio) {
    say(
      'FAIL  mode: debug mode is ON (OTP_DEBUG=true), so workers write codes to their log and send no SMS.',
    );
    say(
      'Fix: set MESSAGGIO_API_KEY (the project login) and MESSAGGIO_SENDER (the sender code for API) to send real SMS, and unset OTP_DEBUG.',
    );
    return EXIT.failed;
  }
  const { baseUrl, login, sender, timeoutMs } = config.messaggio;
  ok('mode', `debug mode is off: SMS go through Messaggio from sender "${sender}"`);
  if (baseUrl.replace(/\/+$/, '') !== DEFAULT_BASE_URL) {
    info('mode', `MESSAGGIO_BASE_URL is ${baseUrl}, not the real Messaggio (${DEFAULT_BASE_URL})`);
  }
  info(
    'mode',
    config.debugFallback
      ? 'OTP_DEBUG_FALLBACK is on: when Messaggio fails for good, the code is written to the worker log'
      : 'OTP_DEBUG_FALLBACK is off',
  );

  // 3. Reachability and the login: an empty request is refused as invalid (400/422) only
  // once the login is accepted; 403 means the login is wrong. Nothing is sent.
  const client = createMessaggioClient({ baseUrl, login, timeoutMs, fetch: options.fetch, connections: 1 });
  // The client keeps a connection alive between the probe and the send; closed on the way out.
  try {
    try {
      const probe = await client.probe();
      const said = [probe.title, probe.detail].filter(Boolean).join(': ');
      if (probe.status === 400 || probe.status === 422 || (probe.status >= 200 && probe.status < 300)) {
        ok(
          'reach',
          `Messaggio answers at ${baseUrl} and accepts the login (HTTP ${probe.status} to an empty test request)`,
        );
      } else {
        return fail('reach', answerFailure(probe.status, said, { sender, isSend: false }));
      }
    } catch (err) {
      if (!isMessaggioError(err)) throw err;
      return fail('reach', connectionFailure(err, baseUrl, timeoutMs));
    }

    // 4. One real SMS, only when asked for.
    if (!args.phone) {
      info('send', 'no SMS sent; add --phone +7… --send to send one real test SMS');
      say('All checks passed.');
      return EXIT.ok;
    }
    const phone = toE164(args.phone);
    if (!phone) {
      return fail(
        'send',
        new CheckFailure(
          `"${args.phone}" is not a mobile phone number.`,
          'Give --phone a mobile number, e.g. +77011234567.',
        ),
      );
    }
    if (!args.send) {
      info('send', `no SMS sent to ${phone}; add --send to really send one`);
      say('All checks passed.');
      return EXIT.ok;
    }
    const text = renderTemplate(config.smsTemplate, generateCode(config.otpLength));
    try {
      const result = await client.send({
        phone,
        sender,
        text,
        externalId: `messaggio-check-${randomUUID()}`,
        ttlSeconds: 300,
      });
      ok(
        'send',
        `Messaggio accepted the SMS to ${phone}: message_id ${result.messageId}, accepted_at ${result.acceptedAt}, recipient ${result.phone}`,
      );
      say(`      text sent: ${JSON.stringify(text)} (a random code; it verifies nothing)`);
      say(
        'All checks passed. If the phone gets no SMS within a few minutes, look the message_id up in the Messaggio dashboard.',
      );
      return EXIT.ok;
    } catch (err) {
      if (!isMessaggioError(err)) throw err;
      if (err.code === 'MESSAGGIO_TIMEOUT' || err.code === 'MESSAGGIO_NETWORK') {
        return fail('send', connectionFailure(err, baseUrl, timeoutMs));
      }
      const said = [err.title, err.detail].filter(Boolean).join(': ');
      if (err.code === 'MESSAGGIO_RECIPIENT_REJECTED') {
        return fail(
          'send',
          new CheckFailure(
            `Messaggio refused the recipient ${phone}${said ? `: ${said.replace(/[\s.]+$/, '')}` : ''}.`,
            'Use a mobile number in a country this Messaggio project may send to.',
          ),
        );
      }
      if (err.status === undefined || err.code === 'MESSAGGIO_BAD_RESPONSE') {
        return fail(
          'send',
          new CheckFailure(
            err.message,
            'Check MESSAGGIO_BASE_URL points at Messaggio; the SMS may have been sent.',
          ),
        );
      }
      return fail('send', answerFailure(err.status, said, { sender, isSend: true }));
    }
  } finally {
    await client.close();
  }
}
