import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * IVs are drawn from a pool of random bytes filled a few KB at a time (as Node does for
 * randomUUID): one randomBytes call per IV, a trip into OpenSSL's generator, was ~10 % of
 * the API's CPU per send (`pnpm bench:profile send`). Every IV is copied out of the pool
 * and its bytes are never handed out again, so no two encryptions share an IV; IVs are not
 * secret, so holding the next ones in memory exposes nothing.
 */
const IV_POOL_BYTES = IV_BYTES * 512;
let ivPool = Buffer.alloc(0);
let ivOffset = 0;

export function nextIv(): Buffer {
  if (ivOffset + IV_BYTES > ivPool.length) {
    ivPool = randomBytes(IV_POOL_BYTES);
    ivOffset = 0;
  }
  const iv = Buffer.from(ivPool.subarray(ivOffset, ivOffset + IV_BYTES));
  ivOffset += IV_BYTES;
  return iv;
}

export class DecryptError extends Error {
  override readonly name = 'DecryptError';
  readonly code = 'JOB_DECRYPT_FAILED';
}

/**
 * AES-256-GCM, serialized as `v1.<iv>.<ciphertext>.<tag>` (base64url). `aad` binds the
 * ciphertext to its context (the verification id and phone), so a ciphertext pasted into
 * another job fails authentication instead of sending someone else's code.
 */
export function encrypt(key: Buffer, plaintext: string, aad: string): string {
  const iv = nextIv();
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [VERSION, iv, body, cipher.getAuthTag()]
    .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
    .join('.');
}

export function decrypt(key: Buffer, sealed: string, aad: string): string {
  const [version, iv, body, tag, ...rest] = sealed.split('.');
  if (version !== VERSION || iv === undefined || body === undefined || tag === undefined || rest.length > 0) {
    throw new DecryptError('Encrypted value has an unknown format.');
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'), {
      authTagLength: TAG_BYTES,
    });
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString(
      'utf8',
    );
  } catch (cause) {
    // Wrong key (OTP_SECRET differs between API and worker) or tampered data: both mean
    // this job can never be sent, which the caller must treat as permanent.
    throw new DecryptError(
      'Encrypted value failed authentication: is OTP_SECRET the same on the API and the worker?',
      {
        cause,
      },
    );
  }
}
