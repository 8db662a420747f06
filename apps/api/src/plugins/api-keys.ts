import { AppError, ErrorCode, LuaScript } from '@otp/core';
import type { onRequestHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import { type ApiKeyEntry, matchApiKey, presentedKey } from '../auth/api-keys.js';
import { REDIS_ERROR_CODES, whileRedisAnswers } from '../services/redis-errors.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** onRequest hook for client routes: checks the API key when any is configured. */
    apiKeyAuth: onRequestHookHandler;
  }
  interface FastifyRequest {
    /** The caller's key entry; null on an open API (no keys configured). */
    apiKey: ApiKeyEntry | null;
    /**
     * The key's quota check when a later hook awaits it (`deferApiKeyQuota`); it rejects
     * with the 429 (or 503) the request must answer.
     */
    apiKeyQuota: Promise<void> | null;
  }
  interface FastifyContextConfig {
    /**
     * The quota check is started in onRequest but awaited by the idempotency pre-handler,
     * beside its claim: one round trip for both. Refusals then come after body validation.
     * @defaultValue false
     */
    deferApiKeyQuota?: boolean;
  }
}

/** What apiKeyAuth can answer: no or a wrong key, a key over its quota, Redis down. */
export const API_KEY_ERROR_CODES = [
  ErrorCode.UNAUTHORIZED,
  ErrorCode.API_KEY_QUOTA_EXCEEDED,
  ...REDIS_ERROR_CODES,
] as const;

export interface ApiKeysPluginOptions {
  keys: readonly ApiKeyEntry[];
  /** Prefix for the per-key quota counters. */
  keyPrefix: string;
  /** The quota's window; keys' quotas are "per minute" in config. @defaultValue 60000 */
  quotaWindowMs?: number;
  /** The clock the quota's windows are counted by. @defaultValue Date.now */
  now?: () => number;
}

// INCR a per-window counter and give it its TTL when it is new; one round trip.
const quotaScript = new LuaScript(
  'api-key-quota',
  `
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {count}
`,
  1,
);

/**
 * API keys (`API_KEYS`). With none configured the client routes are open (the mobile-app
 * case) and per-IP limits apply instead; with any, each client route needs one.
 */
export default fp<ApiKeysPluginOptions>(
  async (fastify, { keys, keyPrefix, quotaWindowMs = 60_000, now = Date.now }) => {
    fastify.decorateRequest('apiKey', null);
    fastify.decorateRequest('apiKeyQuota', null);
    const unauthorized = () =>
      new AppError(
        ErrorCode.UNAUTHORIZED,
        401,
        'A valid API key is required: Authorization: Bearer <key> or X-API-Key.',
        {
          headers: { 'www-authenticate': 'Bearer' },
        },
      );

    const apiKeyAuth: onRequestHookHandler = async (request) => {
      if (keys.length === 0) return;
      const presented = presentedKey(request.headers);
      const entry = presented === undefined ? undefined : matchApiKey(keys, presented);
      if (!entry) {
        request.log.info({ presented: presented !== undefined }, 'request refused: bad or missing API key');
        throw unauthorized();
      }
      request.apiKey = entry;
      if (entry.perMinute === undefined) return;
      const quota = checkQuota(entry, entry.perMinute);
      if (request.routeOptions.config.deferApiKeyQuota === true) {
        // Marked handled here; the pre-handler that awaits it still sees the refusal.
        quota.catch(() => {});
        request.apiKeyQuota = quota;
        return;
      }
      await quota;
    };

    async function checkQuota(entry: ApiKeyEntry, perMinute: number): Promise<void> {
      const at = now();
      const window = Math.floor(at / quotaWindowMs);
      const [count] = (await whileRedisAnswers(() =>
        quotaScript.run(fastify.redis, [`${keyPrefix}quota:${entry.name}:${window}`], [quotaWindowMs]),
      )) as [number];
      if (count > perMinute) {
        // Until the window ends on the quota's clock (the key's TTL only cleans up).
        const retryAfter = Math.max(1, Math.ceil(((window + 1) * quotaWindowMs - at) / 1000));
        throw new AppError(
          ErrorCode.API_KEY_QUOTA_EXCEEDED,
          429,
          `API key "${entry.name}" is over its quota of ${perMinute} requests per minute.`,
          { headers: { 'retry-after': String(retryAfter) }, details: { retry_after: retryAfter } },
        );
      }
    }
    fastify.decorate('apiKeyAuth', apiKeyAuth);
  },
  { name: 'api-keys', dependencies: ['redis'] },
);
