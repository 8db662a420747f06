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
  const main = config.stream ?? process.stdout;
  if (!config.file) return pino(options, main);
  const file = pino.destination({ dest: config.file, mkdir: true, sync: false });
  return pino(options, multistream([{ stream: main }, { stream: file }]));
}
