import { randomUUID } from 'node:crypto';
import { hashTagOf, isCluster, type RedisClient } from '../redis/client.js';
import {
  callerCheckScript,
  cancelScript,
  issueScript,
  liveScript,
  refundScript,
  reserveScript,
  revokeScript,
  verifyScript,
} from './scripts.js';

export interface CodeStoreOptions {
  redis: RedisClient;
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

/**
 * One limit on sends, checked and counted atomically with the issue. A limit whose key
 * carries the phone's hash tag (`{+77011234567}`) is phone-local; any other is shared. On one
 * Redis every limit is checked in the issue's script; on a Redis Cluster the shared ones are
 * reserved first, each by its own script on its own slot, and refunded when the send is
 * refused (see README, Scaling).
 */
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

/** Asks the issue to keep a live code (same code on resend) instead of storing a new one. */
export interface IssueReuse {
  /** The new code, sealed (sealStoredCode): stored so a later resend can send it again. */
  sealedCode: string;
  /**
   * What the code is bound to (purpose and caller): a code is reused only for a send with
   * the same binding, since the purpose is folded into its digest. Not secret.
   */
  binding: string;
  /** Key ids that can still open a sealed code (the key ring); others are not reused. */
  keyIds: readonly string[];
  /** A code with less life than this left is replaced, so the user has time to type it. */
  minRemainingMs: number;
  /** False: store the sealed code for later resends, but do not reuse one now. @defaultValue true */
  reuse?: boolean;
}

export type IssueResult =
  /** A new code was stored, or (`kept`) a live one was kept for this send. */
  | { ok: true; kept?: { verificationId: string; sealedCode: string; ttlMs: number } }
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

/** What a cancel found: see CodeStore.cancel. */
export type CancelResult = 'canceled' | 'already' | 'gone' | 'replaced';

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
    /** Same code on resend. @defaultValue undefined (always a new code, nothing sealed stored) */
    reuse?: IssueReuse;
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
  /**
   * Deletes this verification's code if it is still the phone's live code: `canceled`; a
   * second cancel answers `already` for as long as the code would have lived. `gone`: expired
   * or spent; `replaced`: a newer code for the phone, which is left alone. Unlike revoke, the
   * cooldown and limit charges stay (an SMS went out).
   */
  cancel(input: { phone: string; verificationId: string }): Promise<CancelResult>;
}

/** How long an undone issue stays marked; a late write arrives within seconds. */
const UNDO_MARK_TTL_SECONDS = 3600;
/**
 * How long a cluster reservation mark lives (one per send and shared fixed counter, so kept
 * short): longer than any refund or late reservation takes (the undo retries span ~16 s).
 */
const RESERVATION_MARK_TTL_SECONDS = 120;

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
  // Marks a canceled code (by verification id) for the rest of its life: cancel is idempotent.
  const canceledKey = (phone: string, verificationId: string) =>
    `${prefix}{${phone}}:canceled:${verificationId}`;
  const failedKey = (phone: string) => failedVerifiesKey(prefix, phone);
  // New keys carry the phone's hash tag first, so a phone's keys share one cluster slot.
  const clientFailedKey = (phone: string, client: string) => `${prefix}{${phone}}:vf:${client}`;
  const callerFailedKey = (client: string) => `${prefix}vf-caller:${client}`;
  const failedVerifies = options.failedVerifies ?? { max: 0, windowMs: 1 };
  const KIND_ARGS = { sliding: 's', fixed: 'f', check: 'c', pass: 'p', block: 'b', count: 'n' } as const;
  const kindArg = (kind: SendLimit['kind']) => KIND_ARGS[kind];
  const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));
  const cluster = isCluster(redis);

  // Every step as one script on the phone's slot: the whole store on one Redis. On a
  // cluster the store below calls these with the phone-local limits only.
  const onPhoneSlot: CodeStore = {
    async issue({ phone, digest, verificationId, limits = [], reuse, now = Date.now() }) {
      const [issued, msLeft, refusedBy, keptId, keptSealed, keptTtlMs] = (await issueScript.run(
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
          ...(reuse
            ? [
                reuse.reuse === false ? '0' : '1',
                maxAttempts,
                reuse.minRemainingMs,
                reuse.binding,
                reuse.keyIds.join(' '),
                reuse.sealedCode,
              ]
            : []),
        ],
      )) as [number, number, number, string?, string?, number?];
      if (issued === 1) {
        return keptId === undefined || keptSealed === undefined
          ? { ok: true }
          : { ok: true, kept: { verificationId: keptId, sealedCode: keptSealed, ttlMs: Number(keptTtlMs) } };
      }
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
          // On a cluster the caller's set is another slot's, checked outside (its limit is 0
          // here); unused keys are stood in for by one of the phone's own slot.
          cluster ? codeKey(phone) : callerFailedKey(client),
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

    async cancel({ phone, verificationId }) {
      return (await cancelScript.run(
        redis,
        [codeKey(phone), canceledKey(phone, verificationId)],
        [verificationId],
      )) as CancelResult;
    },
  };
  if (!cluster) return onPhoneSlot;

  /** Phone-local limits (the phone's hash tag) and shared ones, each in the given order. */
  function splitLimits(phone: string, limits: readonly SendLimit[]) {
    const local: SendLimit[] = [];
    const shared: SendLimit[] = [];
    for (const limit of limits) (hashTagOf(limit.key) === phone ? local : shared).push(limit);
    return { local, shared };
  }

  // A send's reservation mark sits in its limit's slot (the limit key's hash tag, or the
  // whole key when it has none), one per limit: several limits can share a tag (a fraud
  // range's block and buckets), and each must know whether it was charged.
  function reservationKey(limit: SendLimit, verificationId: string): string {
    return `${prefix}rsv:{${hashTagOf(limit.key)}}:${verificationId}:${limit.key}`;
  }

  async function reserve(limit: SendLimit, verificationId: string, now: number, hasPass: boolean) {
    return (await reserveScript.run(
      redis,
      [limit.key, reservationKey(limit, verificationId)],
      [
        kindArg(limit.kind),
        limit.max,
        limit.windowMs,
        now,
        verificationId,
        RESERVATION_MARK_TTL_SECONDS,
        hasPass ? '1' : '0',
      ],
    )) as [number, number, number, number?];
  }

  async function refundAll(limits: readonly SendLimit[], verificationId: string): Promise<void> {
    await Promise.all(
      limits
        .filter((limit) => limit.kind !== 'check')
        .map((limit) =>
          refundScript.run(
            redis,
            [limit.key, reservationKey(limit, verificationId)],
            [kindArg(limit.kind), verificationId, RESERVATION_MARK_TTL_SECONDS],
          ),
        ),
    );
  }

  // Redis Cluster: what spans phones (shared limits, the per-caller verify limit, the
  // idempotency record) is on other slots than the phone's scripts (see README, Scaling).
  return {
    async issue({ phone, digest, verificationId, limits = [], reuse, now = Date.now() }) {
      // Shared limits first: the phone's script replaces the previous code, which no refund
      // could bring back, so it runs only once everything else has said yes.
      const { local, shared } = splitLimits(phone, limits);
      // A block (shared) lets a send through on the phone's pass (phone-local): read the
      // pass first, spend it once the send is issued.
      const pass = shared.some((limit) => limit.kind === 'block')
        ? local.find((limit) => limit.kind === 'pass')
        : undefined;
      const hasPass = pass !== undefined && (await redis.exists(pass.key)) === 1;
      const replies = await Promise.all(shared.map((limit) => reserve(limit, verificationId, now, hasPass)));
      const refused = replies.findIndex((reply) => reply[0] !== 1);
      if (refused !== -1) {
        await refundAll(shared, verificationId);
        const [, msLeft, undone] = replies[refused] as [number, number, number];
        if (undone === -1) return { ok: false, reason: 'undone', retryAfterSeconds: 0 };
        return {
          ok: false,
          reason: 'limit',
          limit: (shared[refused] as SendLimit).name,
          retryAfterSeconds: seconds(msLeft),
        };
      }
      const result = await onPhoneSlot.issue({
        phone,
        digest,
        verificationId,
        limits: local,
        ...(reuse ? { reuse } : {}),
        now,
      });
      if (!result.ok) await refundAll(shared, verificationId);
      else if (pass && replies.some((reply) => reply[3] === 1)) await redis.del(pass.key);
      return result;
    },

    async verify(input) {
      // The caller's set is on its own slot: checked before, counted after the phone's
      // script. The idempotency record is written right after a success.
      const { client = '', limitClient = true, onVerified, now = Date.now() } = input;
      const callerMax = client === '' || !limitClient ? 0 : (failedVerifies.perClient ?? 0);
      if (callerMax > 0) {
        const msLeft = Number(
          await callerCheckScript.run(
            redis,
            [callerFailedKey(client)],
            [callerMax, failedVerifies.windowMs, now],
          ),
        );
        if (msLeft > 0) return { status: 'limited', retryAfterSeconds: seconds(msLeft), scope: 'caller' };
      }
      const result = await onPhoneSlot.verify({ ...input, limitClient: false, onVerified: undefined, now });
      if (result.status === 'verified' && onVerified) {
        await redis.set(onVerified.key, onVerified.value, 'EX', onVerified.ttlSeconds);
      } else if (callerMax > 0 && result.status !== 'verified' && result.status !== 'limited') {
        await redis
          .multi()
          .zadd(callerFailedKey(client), now, `${now}-${randomUUID()}`)
          .pexpire(callerFailedKey(client), failedVerifies.windowMs)
          .exec();
      }
      return result;
    },

    isLive: onPhoneSlot.isLive,
    cancel: onPhoneSlot.cancel,

    async revoke({ phone, verificationId, limits = [] }) {
      const { local, shared } = splitLimits(phone, limits);
      const [undone] = await Promise.all([
        onPhoneSlot.revoke({ phone, verificationId, limits: local }),
        refundAll(shared, verificationId),
      ]);
      return undone;
    },
  };
}
