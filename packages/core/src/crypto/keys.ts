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
}

// A fixed salt is fine for HKDF when the input key is already high-entropy; it only has
// to be the same on the API and every worker.
const SALT = Buffer.from('otp-service/v1');

function derive(secret: string, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), SALT, info, 32));
}

export function deriveKeys(secret: string): SecretKeys {
  return {
    codeHmacKey: derive(secret, 'code-hmac'),
    jobCipherKey: derive(secret, 'job-cipher'),
  };
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
