import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppError, ErrorCode, LuaScript } from '@otp/core';
import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import { REDIS_ERROR_CODES, whileRedisAnswers } from '../services/redis-errors.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** preHandler for routes that honour `Idempotency-Key`. */
    idempotency: preHandlerAsyncHookHandler;
  }
  interface FastifyRequest {
    idempotency: IdempotencyClaim | null;
  }
}

/** What the idempotency pre-handler can answer. */
export const IDEMPOTENCY_ERROR_CODES = [
  ErrorCode.VALIDATION_ERROR,
  ErrorCode.IDEMPOTENCY_KEY_IN_PROGRESS,
  ErrorCode.IDEMPOTENCY_KEY_REUSED,
  ...REDIS_ERROR_CODES,
] as const;

export interface IdempotencyPluginOptions {
  keyPrefix: string;
  /** How long an answer is replayed. @defaultValue 86400 (24 h) */
  ttlSeconds?: number;
  /**
   * How long a claim without an answer blocks the key: a request that died (or whose
   * answer could not be recorded) frees the key for a retry this soon. @defaultValue 60
   */
  pendingTtlSeconds?: number;
}

export interface IdempotencyClaim {
  key: string;
  bodyHash: string;
  /** How long a finished answer is replayed. */
  ttlSeconds: number;
  /** The pending record as written: only this exact claim is released. */
  pendingValue: string;
}

type Stored =
  | { state: 'pending'; bodyHash: string; nonce?: string }
  | { state: 'done'; bodyHash: string; statusCode: number; payload: string; contentType: string };

// Printable ASCII, as Stripe and the IETF draft allow; long enough for any UUID scheme.
const KEY_FORMAT = /^[\x21-\x7e]{1,255}$/;

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

/** The stored form of a finished answer, as replayed to a retry with the same key. */
export function doneRecord(claim: IdempotencyClaim, statusCode: number, payload: string): string {
  const done: Stored = {
    state: 'done',
    bodyHash: claim.bodyHash,
    statusCode,
    payload,
    contentType: 'application/json; charset=utf-8',
  };
  return JSON.stringify(done);
}

// Frees a claim after an error answer, unless something finished it meanwhile: a verify
// that spent its code after its own request gave up has written its 200 there.
const releaseScript = new LuaScript(
  'idempotency-release',
  `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
`,
  1,
);

/**
 * `Idempotency-Key` (as in Stripe and draft-ietf-httpapi-idempotency-key-header): the first
 * request with a key is processed; a repeat within the TTL gets the same answer replayed
 * and never sends a second SMS; the same key with another body is 422. Only successful
 * answers are kept: after an error the client may retry with the same key.
 */
export default fp<IdempotencyPluginOptions>(
  async (fastify, { keyPrefix, ttlSeconds = 86_400, pendingTtlSeconds = 60 }) => {
    fastify.decorateRequest('idempotency', null);
    const redisKey = (request: FastifyRequest, key: string) =>
      // Scoped to the API key, or for anonymous callers to their address, so one client
      // cannot replay another's answers (and learn its verification id).
      `${keyPrefix}idem:${request.apiKey?.name ?? `public:${request.clientAddress}`}:${sha256(key)}`;

    const closing = new AbortController();
    fastify.addHook('onClose', async () => {
      closing.abort();
    });
    async function releaseLater(key: string, value: string, log: FastifyRequest['log']): Promise<void> {
      for (const delayMs of [500, 1000, 2000, 4000]) {
        try {
          await sleep(delayMs, undefined, { signal: closing.signal });
        } catch {
          return;
        }
        try {
          await releaseScript.run(fastify.redis, [key], [value]);
          return;
        } catch (err) {
          log.warn({ err }, 'could not release a timed-out idempotency claim; retrying');
        }
      }
    }

    const idempotency: preHandlerAsyncHookHandler = async (request, reply) => {
      // The API key's quota, when its check was left to this hook (deferApiKeyQuota): it
      // runs beside the claim, and a refused request's claim is released like any other.
      const quota = request.apiKeyQuota;
      const header = request.headers['idempotency-key'];
      if (header === undefined) {
        await quota;
        return;
      }
      if (typeof header !== 'string' || !KEY_FORMAT.test(header)) {
        await quota;
        throw new AppError(
          ErrorCode.VALIDATION_ERROR,
          400,
          'Idempotency-Key must be 1-255 printable ASCII characters.',
        );
      }
      // The schema makes the body a flat object; sorted keys make the hash order-independent.
      const body = (request.body ?? {}) as Record<string, unknown>;
      const bodyHash = sha256(JSON.stringify(body, Object.keys(body).sort()));
      const key = redisKey(request, header);
      const pending: Stored = { state: 'pending', bodyHash, nonce: randomUUID() };
      const pendingValue = JSON.stringify(pending);
      const [claim, quotaCheck] = await Promise.allSettled([
        whileRedisAnswers(() => fastify.redis.set(key, pendingValue, 'EX', pendingTtlSeconds, 'NX')).catch(
          (err: unknown) => {
            // The claim may still land after this request gave up: release it once Redis
            // answers, so the retry is not told "in progress" for a request that is gone.
            void releaseLater(key, pendingValue, request.log);
            throw err;
          },
        ),
        quota,
      ]);
      const claimed = claim.status === 'fulfilled' && claim.value === 'OK';
      if (claimed) request.idempotency = { key, bodyHash, ttlSeconds, pendingValue };
      if (quotaCheck.status === 'rejected') throw quotaCheck.reason;
      if (claim.status === 'rejected') throw claim.reason;
      if (claimed) return;
      const raw = await whileRedisAnswers(() => fastify.redis.get(key));
      const stored = raw ? (JSON.parse(raw) as Stored) : undefined;
      if (!stored) {
        // Expired between SET and GET: rare enough to ask for a plain retry.
        throw new AppError(ErrorCode.IDEMPOTENCY_KEY_IN_PROGRESS, 409, 'Retry the request.', {
          headers: { 'retry-after': '1' },
        });
      }
      if (stored.bodyHash !== bodyHash) {
        throw new AppError(
          ErrorCode.IDEMPOTENCY_KEY_REUSED,
          422,
          'This Idempotency-Key was already used with a different body; use a new key for a new request.',
        );
      }
      if (stored.state === 'pending') {
        throw new AppError(
          ErrorCode.IDEMPOTENCY_KEY_IN_PROGRESS,
          409,
          'A request with this Idempotency-Key is still being processed; retry shortly.',
          { headers: { 'retry-after': '1' } },
        );
      }
      request.log.info('idempotent replay');
      return reply
        .code(stored.statusCode)
        .header('content-type', stored.contentType)
        .header('idempotent-replayed', 'true')
        .send(stored.payload);
    };
    fastify.decorate('idempotency', idempotency);

    fastify.addHook('onSend', async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
      const claim = request.idempotency;
      if (!claim) return payload;
      request.idempotency = null;
      try {
        if (reply.statusCode >= 200 && reply.statusCode < 300 && typeof payload === 'string') {
          const done: Stored = {
            state: 'done',
            bodyHash: claim.bodyHash,
            statusCode: reply.statusCode,
            payload,
            contentType: String(reply.getHeader('content-type') ?? 'application/json; charset=utf-8'),
          };
          await fastify.redis.set(claim.key, JSON.stringify(done), 'EX', ttlSeconds);
        } else {
          await releaseScript.run(fastify.redis, [claim.key], [claim.pendingValue]);
        }
      } catch (err) {
        // The answer itself is fine; a lost record only means a retry is processed anew.
        request.log.error({ err }, 'could not record the idempotent answer');
      }
      return payload;
    });
  },
  { name: 'idempotency', dependencies: ['redis'] },
);
