import underPressure from '@fastify/under-pressure';
import { AppError, ErrorCode } from '@otp/core';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

export interface OverloadLimits {
  /** Mean event loop delay over one sample, ms; 0 = not checked. */
  maxEventLoopDelayMs: number;
  /** V8 heap in use, bytes; 0 = not checked. */
  maxHeapUsedBytes: number;
  /** Resident set size, bytes; 0 = not checked. */
  maxRssBytes: number;
  /** Retry-After on the 503, seconds. */
  retryAfterSeconds: number;
  /** How often the process is measured, ms. @defaultValue 1000 */
  sampleIntervalMs?: number;
}

// Liveness must not fail because the process is busy (an orchestrator would restart a pod
// that is only loaded), and metrics are most needed exactly then.
const EXEMPT_ROUTES = new Set(['/health/live', '/metrics']);

/**
 * Sheds load instead of letting latency grow without bound: while the event loop lags or
 * memory passes a limit, requests are answered at once with 503 SERVICE_OVERLOADED and
 * Retry-After, before any Redis work. Measured by @fastify/under-pressure once per sample.
 */
export default fp<OverloadLimits>(
  async (fastify, limits) => {
    const log = fastify.log.child({ component: 'overload' });
    let lastLoggedAt = 0;
    await fastify.register(underPressure, {
      maxEventLoopDelay: limits.maxEventLoopDelayMs,
      maxHeapUsedBytes: limits.maxHeapUsedBytes,
      maxRssBytes: limits.maxRssBytes,
      retryAfter: limits.retryAfterSeconds,
      sampleInterval: limits.sampleIntervalMs ?? 1000,
      // An async handler: resolving lets the request through, rejecting answers it.
      pressureHandler: async (request: FastifyRequest, _reply, type, value) => {
        if (EXEMPT_ROUTES.has(request.routeOptions.url ?? '')) return;
        // One line a second at most: logging every refusal would add to the overload.
        const now = Date.now();
        if (now - lastLoggedAt >= 1000) {
          lastLoggedAt = now;
          log.warn({ type, value }, 'overloaded: refusing requests with 503');
        }
        throw new AppError(
          ErrorCode.SERVICE_OVERLOADED,
          503,
          'The service is overloaded; try again shortly.',
          { headers: { 'retry-after': String(limits.retryAfterSeconds) } },
        );
      },
    });
  },
  { name: 'overload', dependencies: ['error-handler'] },
);
