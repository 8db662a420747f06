import type { ApiConfig } from './config.js';

export interface StartupSummary {
  /** One line for the JSON log. */
  message: string;
  /** The same facts as fields of that line. */
  fields: { url: string; docs: string; bullBoard?: string; mode: string; loopbackExemptFromIpLimit: boolean };
  /** The short block a developer reads on a terminal. */
  lines: string[];
}

/**
 * What the API prints once it listens: where to point a browser, and the mode it runs in.
 * `port` is the bound one (PORT=0 picks a free port).
 */
export function startupSummary(config: ApiConfig, port: number): StartupSummary {
  // A wildcard bind answers on localhost; that is the address a developer can click.
  const host = ['0.0.0.0', '::', ''].includes(config.host) ? 'localhost' : config.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const docs = `${url}/docs`;
  const bullBoard = config.admin ? `${url}/admin/queues` : undefined;
  const mode = config.debugMode
    ? 'debug mode: codes come back as debug_code and go to the worker log; no SMS is sent'
    : 'live: codes are sent by SMS';
  const lines = [
    `otp-api ready (${config.nodeEnv})`,
    `  API         ${url}`,
    `  API docs    ${docs}`,
    ...(bullBoard ? [`  Bull Board  ${bullBoard}  (admin credentials)`] : []),
    `  Mode        ${mode}`,
    ...(config.debugMode
      ? ['  Limits      per-IP limits do not apply to loopback callers (debug mode)']
      : []),
  ];
  return {
    message: 'otp-api ready',
    fields: {
      url,
      docs,
      ...(bullBoard ? { bullBoard } : {}),
      mode: config.debugMode ? 'debug' : 'live',
      loopbackExemptFromIpLimit: config.debugMode,
    },
    lines,
  };
}
