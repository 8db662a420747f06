import { createRequire } from 'node:module';
import { type DestinationStream, type Logger, type LoggerOptions, multistream, pino } from 'pino';

import { redactSecretsInText } from './redact.js';

export type { Logger } from 'pino';

export interface LoggerConfig {
  /** pino level. @defaultValue 'info' */
  level?: string;
  /** Also append the JSON lines to this file (the old service wrote django.log). */
  file?: string;
  /** Bound to every line as `service`. */
  service: string;
  /** Where lines go besides the file. @defaultValue process.stdout */
  stream?: DestinationStream;
  /**
   * Human-readable, coloured lines on stdout through pino-pretty (a development dependency,
   * so ignored when it is not installed, as in the production image). The entries turn it on
   * for development on a terminal; the file, if any, still gets JSON. Ignored with `stream`.
   * @defaultValue false
   */
  pretty?: boolean;
}

/**
 * Paths whose values never reach a log line. Codes are not listed because they are never
 * logged in the first place; these are secrets that could ride along in objects.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["messaggio-login"]',
  'config.OTP_SECRET',
  'config.MESSAGGIO_API_KEY',
];

interface PrettyLine {
  service?: string;
  component?: string;
  code?: string;
  [key: string]: unknown;
}

/**
 * pino-pretty's layout for a terminal: one line per entry, the service first (`pnpm start`
 * interleaves two processes), and the code of a debug SMS at the end of its line in reverse
 * video, so it is found at a glance. pino-pretty runs in this thread, as a stream: its worker
 * thread transport could not take this function, and it strips escapes from string templates.
 */
function prettyStream(): DestinationStream | undefined {
  let build: ((options: Record<string, unknown>) => DestinationStream) | undefined;
  try {
    build = createRequire(import.meta.url)('pino-pretty') as typeof build;
  } catch {
    return undefined; // not installed (the production image): JSON it is
  }
  return build?.({
    colorize: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,service',
    singleLine: true,
    messageFormat: (line: PrettyLine, messageKey: string) => {
      const text = `${line.service ?? ''}: ${String(line[messageKey] ?? '')}`;
      return line.component === 'debug-sms' && line.code
        ? `${text}  \u001b[1;7m code ${line.code} \u001b[0m`
        : text;
    },
  });
}

export function createLogger(config: LoggerConfig): Logger {
  const options: LoggerOptions = {
    level: config.level ?? 'info',
    base: { service: config.service },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Secrets inside strings (a URL's password, a webhook path's secret) are masked in the
    // finished line, wherever in it they ended up.
    hooks: { streamWrite: redactSecretsInText },
  };
  const pretty = config.pretty && !config.stream ? prettyStream() : undefined;
  const main = config.stream ?? pretty ?? process.stdout;
  if (!config.file) return pino(options, main);
  const file = pino.destination({ dest: config.file, mkdir: true, sync: false });
  return pino(options, multistream([{ stream: main }, { stream: file }]));
}
