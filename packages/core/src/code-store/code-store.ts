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
}

export type IssueResult = { ok: true } | { ok: false; reason: 'cooldown'; retryAfterSeconds: number };

export type VerifyResult =
  | { status: 'verified'; verificationId: string }
  | { status: 'invalid'; attemptsLeft: number; verificationId: string }
  | { status: 'attempts_exceeded'; verificationId: string }
  | { status: 'expired' };

export type LiveResult =
  | { live: true; ttlMs: number }
  | { live: false; reason: 'gone' | 'replaced' | 'dead' };

export interface CodeStore {
  /** Stores the digest of a new code for `phone`, replacing any previous one, unless the cooldown runs. */
  issue(input: { phone: string; digest: string; verificationId: string }): Promise<IssueResult>;
  /** Checks a digest, counts a wrong one, spends a right one: one atomic step. */
  verify(input: { phone: string; digest: string }): Promise<VerifyResult>;
  /** Whether this verification's code can still be used, so the worker sends no stale SMS. */
  isLive(input: { phone: string; verificationId: string }): Promise<LiveResult>;
  /** Takes back an issue whose send could not be queued, so the client can simply retry. */
  revoke(input: { phone: string; verificationId: string }): Promise<void>;
}

/** Codes live in Redis as HMAC digests only; this store never sees a code in clear. */
export function createCodeStore(options: CodeStoreOptions): CodeStore {
  const { redis, ttlSeconds, maxAttempts, resendCooldownSeconds } = options;
  const prefix = options.keyPrefix ?? 'otp:';
  // The {phone} hash tag keeps one phone's keys in one Redis Cluster slot, which the
  // multi-key scripts need.
  const codeKey = (phone: string) => `${prefix}code:{${phone}}`;
  const cooldownKey = (phone: string) => `${prefix}cooldown:{${phone}}`;

  return {
    async issue({ phone, digest, verificationId }) {
      const [issued, msLeft] = (await issueScript.run(
        redis,
        [codeKey(phone), cooldownKey(phone)],
        [digest, verificationId, ttlSeconds, resendCooldownSeconds],
      )) as [number, number];
      if (issued === 1) return { ok: true };
      return { ok: false, reason: 'cooldown', retryAfterSeconds: Math.max(1, Math.ceil(msLeft / 1000)) };
    },

    async verify({ phone, digest }) {
      const reply = (await verifyScript.run(redis, [codeKey(phone)], [digest, maxAttempts])) as [
        string,
        (string | number)?,
        string?,
      ];
      switch (reply[0]) {
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

    async revoke({ phone, verificationId }) {
      await revokeScript.run(redis, [codeKey(phone), cooldownKey(phone)], [verificationId]);
    },
  };
}
