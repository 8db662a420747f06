import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '@otp/core';
import type { Registry } from 'prom-client';

export interface MetricsServerOptions {
  /** 0 picks a free port (tests); the worker's config never passes 0, which means "off" there. */
  port: number;
  /** @defaultValue '0.0.0.0' */
  host?: string;
  registry: Registry;
  /** Readiness: Redis answers and the worker takes jobs. Must settle on its own (give it a timeout). */
  isReady(): Promise<boolean>;
  /**
   * Extra fields for /health/ready's answer either way (the providers' breakers). Informative
   * only: an open breaker does not make a worker unready, the chain routes around it.
   */
  detail?(): Promise<Record<string, unknown>>;
  logger: Logger;
}

export interface MetricsServer {
  /** Resolves once listening, with the port; rejects if the port cannot be bound. */
  readonly listening: Promise<number>;
  /** Stops listening and drops open connections (scrapers keep them alive). Idempotent. */
  close(): Promise<void>;
}

function answer(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' }).end(body);
}

const json = (res: ServerResponse, status: number, body: unknown) =>
  answer(res, status, 'application/json; charset=utf-8', JSON.stringify(body));

/**
 * The worker's only HTTP port: `/metrics` for Prometheus, `/health/live` and `/health/ready`
 * for orchestrators. Plain node:http: three read-only routes need no framework.
 */
export function startMetricsServer(options: MetricsServerOptions): MetricsServer {
  const log = options.logger.child({ component: 'metrics-server' });
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      json(res, 405, { status: 'error', message: 'Only GET.' });
      return;
    }
    const respond = async () => {
      switch (path) {
        case '/metrics':
          return answer(res, 200, options.registry.contentType, await options.registry.metrics());
        case '/health/live':
          return json(res, 200, { status: 'ok' });
        case '/health/ready': {
          const [ready, detail] = await Promise.all([
            options.isReady(),
            options.detail?.().catch(() => ({})) ?? Promise.resolve({}),
          ]);
          return ready
            ? json(res, 200, { status: 'ok', ...detail })
            : json(res, 503, {
                status: 'unavailable',
                message: 'Redis does not answer or the worker is stopping.',
                ...detail,
              });
        }
        default:
          return json(res, 404, { status: 'error', message: `No route for ${req.method} ${path}.` });
      }
    };
    respond().catch((err: unknown) => {
      log.error({ err, path }, 'metrics request failed');
      if (!res.headersSent) json(res, 500, { status: 'error', message: 'Internal error.' });
      else res.destroy();
    });
  });

  const listening = new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
  // The caller decides what a bind failure means; this keeps it from being unhandled meanwhile.
  listening.catch(() => {});

  let closing: Promise<void> | undefined;
  return {
    listening,
    close() {
      // After listen settles, so a close during start-up cannot leave a socket behind; a
      // port that was never bound has nothing to close.
      closing ??= listening.then(
        () =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeAllConnections();
          }),
        () => undefined,
      );
      return closing;
    },
  };
}
