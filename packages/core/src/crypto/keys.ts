import { createHash, createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

/**
 * Keys derived from OTP_SECRET. One secret in the environment, a separate key per use,
 * so a key recovered from one place (say, a job payload) says nothing about another.
 */
export interface SecretKeys {
  /** HMAC key for stored code digests. */
  readonly codeHmacKey: Buffer;
  /** AES-256-GCM key for the code carried in a send job. */
  readonly jobCipherKey: Buffer;
  /**
   * Names the secret (not secret itself: a one-way derivation, 8 hex characters). Stored
   * beside every digest and sealed job, so after a rotation each is opened with its own key.
   */
  readonly keyId: string;
}

// A fixed salt is fine for HKDF when the input key is already high-entropy; it only has
// to be the same on the API and every worker.
const SALT = Buffer.from('otp-service/v1');

/**
 * A 32-byte key for one named use, derived from OTP_SECRET (HKDF-SHA256). For keys that
 * live outside the code path, e.g. the API's sealing key for its generated signing key.
 */
export function deriveSecretKey(secret: string, purpose: string): Buffer {
  return derive(secret, purpose);
}

function derive(secret: string, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), SALT, info, 32));
}

export function deriveKeys(secret: string): SecretKeys {
  return {
    codeHmacKey: derive(secret, 'code-hmac'),
    jobCipherKey: derive(secret, 'job-cipher'),
    keyId: derive(secret, 'key-id').toString('hex').slice(0, 8),
  };
}

/**
 * The keys in use: OTP_SECRET first (every new digest and job), then OTP_SECRET_PREVIOUS
 * while rotating, so codes issued and jobs queued before the switch still verify and send.
 */
export function deriveKeyRing(secret: string, previous?: string): SecretKeys[] {
  return previous ? [deriveKeys(secret), deriveKeys(previous)] : [deriveKeys(secret)];
}

/** The digest as stored: `<key id>:<hex>`, so a verify knows which secret made it. */
export function storedCodeDigest(keys: SecretKeys, phone: string, code: string): string {
  return `${keys.keyId}:${codeDigest(keys.codeHmacKey, phone, code)}`;
}

/**
 * What a verify compares against the stored digest: one candidate per key in the ring
 * (the verify script picks the one whose key id matches), then the bare digest of the
 * current key, for codes stored before key ids existed.
 */
export function codeDigestCandidates(ring: readonly SecretKeys[], phone: string, code: string): string[] {
  const [current] = ring;
  const legacy = current ? [codeDigest(current.codeHmacKey, phone, code)] : [];
  return [...ring.map((keys) => storedCodeDigest(keys, phone, code)), ...legacy];
}

/**
 * The digest Redis keeps instead of the code: HMAC-SHA256 over phone and code. The phone
 * is bound in so a digest copied to another number's key matches nothing.
 */
export function codeDigest(key: Buffer, phone: string, code: string): string {
  return createHmac('sha256', key).update(`${phone}:${code}`).digest('hex');
}

/**
 * Constant-time string equality for secrets. Both sides are hashed first, so the compared
 * values always have the same length and the timing does not even reveal the secret's.
 */
export function safeEqual(a: string, b: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
  return timingSafeEqual(digest(a), digest(b));
}
