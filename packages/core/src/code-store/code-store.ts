import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { issueScript, liveScript, revokeScript, verifyScript } from './scripts.js';

export interface CodeStoreOptions {
  redis: Redis;
  /** Prepended to every key, so several deployments (or tests) share one Redis. @defaultValue 'otp:' */
  keyPrefix?: string;
  /** How long a code lives. */
  ttlSeconds: number;
  /** Wrong codes allowed per issued code; then it is dead. */
  maxAttempts: number;
  /** Minimum time between two sends to one phone; 0 turns it off. */
  resendCooldownSeconds: number;
  /**
   * Failed verifies allowed per window: `max` per (phone, client), `phoneCeiling` per phone
   * across all clients, `perClient` per client across phones (an address or API key).
   * Each 0 (or absent) is off. @defaultValue all off
   */
  failedVerifies?: { max: number; windowMs: number; phoneCeiling?: number; perClient?: number };
}

/** One limit on sends, checked and counted atomically with the issue. */
export interface SendLimit<Name extends string = string> {
  /** Stable name, reported when this limit refuses a send. */
  name: Name;
  /** Full Redis key of the limit's counter. */
  key: string;
  /** Sends allowed per window. */
  max: number;
  windowMs: number;
  /**
   * `sliding`: exact, any window-long stretch holds at most `max` (a sorted set of send
   * times; for small per-phone and per-IP limits). `fixed`: a counter that resets when its
   * key expires (for large daily budgets, where the key names the day). `check`: refuse
   * while a sliding set counted elsewhere is full, count nothing (a lock). `pass`: while
   * this key exists, a send gets through the `block` limits listed after it, once: a send
   * that needed it deletes the key (an exemption its owner renews; `max` and `windowMs`
   * unused). `block`: refuse until the time (epoch ms) in this hash's
   * `until` field, if any, except `max` sends with a pass (counted in its `passes` field). `count`: count the send into this key, which names its time bucket and
   * expires `windowMs` after its first count; never refuses (`max` unused).
   */
  kind: 'sliding' | 'fixed' | 'check' | 'pass' | 'block' | 'count';
}

export type IssueResult =
  | { ok: true }
  | { ok: false; reason: 'cooldown'; retryAfterSeconds: number }
  /** This verification id was undone before its issue reached Redis. */
  | { ok: false; reason: 'undone'; retryAfterSeconds: number }
  | { ok: false; reason: 'limit'; limit: string; retryAfterSeconds: number };

export type VerifyResult =
  | { status: 'verified'; verificationId: string }
  | { status: 'invalid'; attemptsLeft: number; verificationId: string }
  | { status: 'attempts_exceeded'; verificationId: string }
  | { status: 'expired' }
  | { status: 'limited'; retryAfterSeconds: number; scope: 'client' | 'phone' | 'caller' };

export type LiveResult =
  | { live: true; ttlMs: number }
  | { live: false; reason: 'gone' | 'replaced' | 'dead' };

export interface CodeStore {
  /**
   * Stores the digest of a new code for `phone`, replacing any previous one, unless the
   * cooldown runs or a limit is full; a stored code counts against every limit.
   */
  issue(input: {
    phone: string;
    digest: string;
    verificationId: string;
    limits?: readonly SendLimit[];
    /** @defaultValue Date.now() */
    now?: number;
  }): Promise<IssueResult>;
  /** Checks a digest, counts a wrong one, spends a right one: one atomic step. */
  verify(input: {
    phone: string;
    /** The digest, or several candidates (one per secret while rotating; see codeDigestCandidates). */
    digest: string | readonly string[];
    /** Who is verifying (an API key or an address), for the per-client limits. @defaultValue '' */
    client?: string;
    /** Whether `perClient` applies to this client (API keys have quotas instead). @defaultValue true */
    limitClient?: boolean;
    /** Written in the same step when the code is spent: the request's idempotent answer. */
    onVerified?: { key: string; value: string; ttlSeconds: number };
    /** @defaultValue Date.now() */
    now?: number;
  }): Promise<VerifyResult>;
  /** Whether this verification's code can still be used, so the worker sends no stale SMS. */
  isLive(input: { phone: string; verificationId: string }): Promise<LiveResult>;
  /**
   * Takes back an issue whose send could not be queued, or whose answer never came back,
   * so the client can simply retry: the code, the cooldown and every limit charge.
   * Idempotent, and an issue that reaches Redis after its undo changes nothing.
   * Resolves true when this call undid it, false when it was already undone.
   */
  revoke(input: { phone: string; verificationId: string; limits?: readonly SendLimit[] }): Promise<boolean>;
}

/** How long an undone issue stays marked; a late write arrives within seconds. */
const UNDO_MARK_TTL_SECONDS = 3600;

/**
 * The sorted set of failed verifies of one phone across all clients (the ceiling). Send
 * limits of kind `check` read it to refuse a paid SMS to a number whose verifies are locked.
 */
export function failedVerifiesKey(prefix: string, phone: string): string {
  return `${prefix}verify-fail:{${phone}}`;
}

/** Codes live in Redis as HMAC digests only; this store never sees a code in clear. */
export function createCodeStore(options: CodeStoreOptions): CodeStore {
  const { redis, ttlSeconds, maxAttempts, resendCooldownSeconds } = options;
  const prefix = options.keyPrefix ?? 'otp:';
  // The {phone} hash tag keeps one phone's keys in one Redis Cluster slot, which the
  // multi-key scripts need.
  const codeKey = (phone: string) => `${prefix}code:{${phone}}`;
  const cooldownKey = (phone: string) => `${prefix}cooldown:{${phone}}`;
  // Marks an undone issue (by verification id) for as long as a late write could arrive.
  const undoneKey = (phone: string, verificationId: string) => `${prefix}{${phone}}:undone:${verificationId}`;
  const failedKey = (phone: string) => failedVerifiesKey(prefix, phone);
  // New keys carry the phone's hash tag first, so a phone's keys share one cluster slot.
  const clientFailedKey = (phone: string, client: string) => `${prefix}{${phone}}:vf:${client}`;
  const callerFailedKey = (client: string) => `${prefix}vf-caller:${client}`;
  const failedVerifies = options.failedVerifies ?? { max: 0, windowMs: 1 };
  const KIND_ARGS = { sliding: 's', fixed: 'f', check: 'c', pass: 'p', block: 'b', count: 'n' } as const;
  const kindArg = (kind: SendLimit['kind']) => KIND_ARGS[kind];
  const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

  return {
    async issue({ phone, digest, verificationId, limits = [], now = Date.now() }) {
      const [issued, msLeft, refusedBy] = (await issueScript.run(
        redis,
        [
          codeKey(phone),
          cooldownKey(phone),
          undoneKey(phone, verificationId),
          ...limits.map((limit) => limit.key),
        ],
        [
          digest,
          verificationId,
          ttlSeconds,
          resendCooldownSeconds,
          now,
          limits.length,
          ...limits.flatMap((limit) => [kindArg(limit.kind), limit.max, limit.windowMs]),
        ],
      )) as [number, number, number];
      if (issued === 1) return { ok: true };
      if (refusedBy === -1) return { ok: false, reason: 'undone', retryAfterSeconds: 0 };
      const limit = limits[refusedBy - 1];
      if (limit) return { ok: false, reason: 'limit', limit: limit.name, retryAfterSeconds: seconds(msLeft) };
      return { ok: false, reason: 'cooldown', retryAfterSeconds: seconds(msLeft) };
    },

    async verify({ phone, digest, client = '', limitClient = true, onVerified, now = Date.now() }) {
      const reply = (await verifyScript.run(
        redis,
        [
          codeKey(phone),
          clientFailedKey(phone, client),
          failedKey(phone),
          callerFailedKey(client),
          // Unused without an idempotency record; a key of the phone's own slot stands in.
          onVerified?.key ?? codeKey(phone),
        ],
        [
          typeof digest === 'string' ? digest : digest.join(' '),
          maxAttempts,
          failedVerifies.windowMs,
          now,
          `${now}-${randomUUID()}`,
          failedVerifies.max,
          failedVerifies.phoneCeiling ?? 0,
          client === '' || !limitClient ? 0 : (failedVerifies.perClient ?? 0),
          onVerified?.value ?? '',
          onVerified?.ttlSeconds ?? 0,
        ],
      )) as [string, (string | number)?, string?];
      switch (reply[0]) {
        case 'limited':
          return {
            status: 'limited',
            retryAfterSeconds: seconds(Number(reply[1])),
            scope: reply[2] as 'client' | 'phone' | 'caller',
          };
        case 'verified':
          return { status: 'verified', verificationId: String(reply[1]) };
        case 'invalid':
          return {
            status: 'invalid',
            attemptsLeft: Math.max(0, Number(reply[1])),
            verificationId: String(reply[2]),
          };
        case 'attempts_exceeded':
          return { status: 'attempts_exceeded', verificationId: String(reply[1]) };
        default:
          return { status: 'expired' };
      }
    },

    async isLive({ phone, verificationId }) {
      const [state, ttlMs] = (await liveScript.run(
        redis,
        [codeKey(phone)],
        [verificationId, maxAttempts],
      )) as ['live' | 'gone' | 'replaced' | 'dead', number];
      return state === 'live' ? { live: true, ttlMs } : { live: false, reason: state };
    },

    async revoke({ phone, verificationId, limits = [] }) {
      const undone = await revokeScript.run(
        redis,
        [
          codeKey(phone),
          cooldownKey(phone),
          undoneKey(phone, verificationId),
          ...limits.map((limit) => limit.key),
        ],
        [verificationId, UNDO_MARK_TTL_SECONDS, ...limits.map((limit) => kindArg(limit.kind))],
      );
      return undone === 1;
    },
  };
}
