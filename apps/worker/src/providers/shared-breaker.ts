import { type Logger, LuaScript, type RedisClient } from '@otp/core';
import { countsAgainstProvider, errorScope } from '@otp/sms';
import {
  type CircuitBreakerPolicy,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  handleWhen,
} from 'cockatiel';

/** A provider's breaker as every worker sees it. */
export type BreakerState = 'closed' | 'open' | 'half-open';

/** The `otp_provider_circuit_state` gauge's values. */
export const BREAKER_STATE_VALUE: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2 };

/** May this worker call the provider now? */
export type BreakerGate =
  | { allowed: true /** This call is the one half-open probe. */; probe: boolean }
  | { allowed: false; state: 'open' | 'half-open' /** When it is worth asking again. */; retryInMs: number };

export interface SharedBreakerOptions {
  provider: string;
  redis: RedisClient;
  keyPrefix: string;
  /** Consecutive counted failures (transient or provider scope) in one worker that open it. */
  failureThreshold: number;
  /** How long it stays open before one probe may try (SMS_BREAKER_COOLDOWN_MS). */
  cooldownMs: number;
  logger: Logger;
  /** @defaultValue Date.now */
  now?: () => number;
}

export interface SharedBreaker {
  readonly provider: string;
  /** One Redis round trip: closed (go), half-open with the probe free (go, as the probe), or skip. */
  acquire(): Promise<BreakerGate>;
  /**
   * Runs one call through the local policy and records its outcome in the shared state. Errors
   * of `message` scope, `provider` errors for one destination only (`destinationOnly`) and
   * calls aborted by the caller count neither way.
   */
  run<T>(
    gate: Extract<BreakerGate, { allowed: true }>,
    call: (signal: AbortSignal) => Promise<T>,
    signal?: AbortSignal,
  ): Promise<T>;
  /**
   * Hands back a gate that will not be used (the job turned out to have nothing to send):
   * a probe's half-open lease goes back at once, so another worker may probe.
   */
  release(gate: BreakerGate): Promise<void>;
  /** The shared state, for /metrics and /health/ready. */
  state(): Promise<BreakerState>;
}

// KEYS: open (PX = what is left of the cool-down), tripped (set while not closed), probe (the
// half-open lease). ARGV: worker id, probe lease ms.
const acquireScript = new LuaScript(
  'breaker-acquire',
  `
local open_ms = redis.call('PTTL', KEYS[1])
if open_ms > 0 then return {'open', open_ms} end
if redis.call('EXISTS', KEYS[2]) == 0 then return {'closed', 0} end
if redis.call('SET', KEYS[3], ARGV[1], 'NX', 'PX', ARGV[2]) then return {'probe', 0} end
return {'busy', redis.call('PTTL', KEYS[3])}
`,
  3,
);

// KEYS: open, tripped, probe. ARGV: now ms, cool-down ms, tripped ttl s.
// Returns the state it left: 'closed' (a fresh trip) or 'half-open' (a failed probe), or
// 'open' when another worker had already opened it.
const tripScript = new LuaScript(
  'breaker-trip',
  `
local previous = 'closed'
if redis.call('PTTL', KEYS[1]) > 0 then previous = 'open'
elseif redis.call('EXISTS', KEYS[2]) == 1 then previous = 'half-open' end
if previous ~= 'open' then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end
redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[3])
redis.call('DEL', KEYS[3])
return previous
`,
  3,
);

// KEYS: open, tripped, probe. Returns 1 when it was not closed before.
const closeScript = new LuaScript(
  'breaker-close',
  `
return redis.call('DEL', KEYS[1], KEYS[2], KEYS[3]) > 0 and 1 or 0
`,
  3,
);

/** A call the caller aborted (the shutdown deadline): it says nothing about the provider. */
class CallerAborted extends Error {
  constructor(readonly original: unknown) {
    super('aborted by the caller');
  }
}

/** A breaker that sat half-open this long with nobody probing has been forgotten: close it. */
const TRIPPED_TTL_SECONDS = 24 * 3600;

/**
 * One circuit breaker per provider, shared by every worker through Redis.
 *
 * cockatiel runs each call (its consecutive-failure breaker with `handleWhen`, so per-message
 * errors do not count), but its state lives in one process and cannot be shared safely: its
 * `toJSON`/`initialState` snapshot has no compare-and-set, and its half-open probe is per
 * process. So cockatiel decides when this worker has seen enough failures, and Redis holds
 * what every worker obeys: an `open` key whose TTL is the cool-down, a `tripped` key that
 * makes its expiry half-open, and a `probe` lease taken with SET NX, so one worker at a time
 * probes. A successful probe closes it for all; a failed one opens it for another cool-down.
 * The local policy is rebuilt whenever the shared state says closed or hands out the probe,
 * so a worker never stays open on its own after another worker's probe closed the breaker.
 */
export function createSharedBreaker(options: SharedBreakerOptions): SharedBreaker {
  const { provider, redis, cooldownMs } = options;
  const now = options.now ?? Date.now;
  const log = options.logger.child({ component: 'circuit-breaker', provider });
  const base = `${options.keyPrefix}breaker:{${provider}}`;
  const keys = [`${base}:open`, `${base}:tripped`, `${base}:probe`];
  const workerId = `${process.pid}:${Math.random().toString(36).slice(2, 10)}`;

  async function trip(reason: string, errorCode?: string): Promise<void> {
    const previous = (await tripScript.run(redis, keys, [
      now(),
      cooldownMs,
      TRIPPED_TTL_SECONDS,
    ])) as BreakerState;
    if (previous !== 'open') {
      log.warn({ from: previous, to: 'open', reason, errorCode, cooldownMs }, 'circuit breaker opened');
    }
  }

  const buildPolicy = (): CircuitBreakerPolicy =>
    circuitBreaker(
      handleWhen((err) => !(err instanceof CallerAborted) && countsAgainstProvider(err)),
      { halfOpenAfter: cooldownMs, breaker: new ConsecutiveBreaker(options.failureThreshold) },
    );
  let policy = buildPolicy();

  return {
    provider,
    async acquire() {
      const [state, ms] = (await acquireScript.run(redis, keys, [workerId, cooldownMs])) as [string, number];
      switch (state) {
        case 'closed':
          if (policy.state !== CircuitState.Closed) policy = buildPolicy();
          return { allowed: true, probe: false };
        case 'probe':
          log.info({ from: 'open', to: 'half-open' }, 'circuit breaker half-open: this worker probes');
          policy = buildPolicy();
          return { allowed: true, probe: true };
        case 'open':
          return { allowed: false, state: 'open', retryInMs: Math.max(1, ms) };
        default:
          return { allowed: false, state: 'half-open', retryInMs: Math.max(1, ms) };
      }
    },

    async run(gate, call, signal) {
      try {
        const result = await policy.execute(async ({ signal: inner }) => {
          try {
            return await call(inner);
          } catch (err) {
            // Kept out of cockatiel's count: an abort at shutdown is not the provider failing.
            throw signal?.aborted ? new CallerAborted(err) : err;
          }
        }, signal);
        if (gate.probe && (await closeScript.run(redis, keys, [])) === 1) {
          log.info({ from: 'half-open', to: 'closed' }, 'circuit breaker closed: the probe went through');
        }
        return result;
      } catch (caught) {
        const err = caught instanceof CallerAborted ? caught.original : caught;
        const aborted = signal?.aborted === true;
        const scope = errorScope(err);
        // A rejected number, or a destination this provider may not serve, says nothing
        // about the provider: it neither opens the breaker nor closes it.
        if (!aborted && countsAgainstProvider(err)) {
          const code = (err as { code?: unknown }).code;
          const errorCode = typeof code === 'string' ? code : undefined;
          // A failed probe, or an error that says this provider cannot send at all (bad
          // credentials, no balance), opens it for everyone at once: counting would only
          // spend more requests on it. Otherwise cockatiel counts, and its break opens it.
          if (gate.probe) await trip('the half-open probe failed', errorCode);
          else if (scope === 'provider') await trip('the provider refused the account', errorCode);
          else if (policy.state === CircuitState.Open) {
            await trip(`${options.failureThreshold} failures in a row`, errorCode);
          }
        } else if (gate.probe) {
          // The probe proved nothing either way: hand the lease back.
          await redis.del(keys[2] as string);
        }
        throw err;
      }
    },

    async release(gate) {
      if (gate.allowed && gate.probe) await redis.del(keys[2] as string);
    },

    async state() {
      const [open, tripped] = await Promise.all([
        redis.pttl(keys[0] as string),
        redis.exists(keys[1] as string),
      ]);
      if (open > 0) return 'open';
      return tripped === 1 ? 'half-open' : 'closed';
    },
  };
}
