import { DecryptError, decrypt, encrypt } from '../crypto/cipher.js';
import type { SecretKeys } from '../crypto/keys.js';

/**
 * What binds a stored sealed code: it opens only for the verification, phone and binding it
 * was sealed for, so a sealed value copied to another number's key (or a binding edited in
 * Redis) opens to nothing.
 */
export interface SealedCodeContext {
  verificationId: string;
  phone: string;
  binding: string;
}

const aad = (ctx: SealedCodeContext) => `code|${ctx.verificationId}|${ctx.phone}|${ctx.binding}`;

/**
 * Seals a code for the code hash (same code on resend): AES-256-GCM with the job key, as
 * `<key id>:v1.<iv>.<ciphertext>.<tag>`, so the issue script can tell which secret sealed it
 * and a resend after a rotation reuses only codes the API can still open.
 */
export function sealStoredCode(keys: SecretKeys, code: string, ctx: SealedCodeContext): string {
  return `${keys.keyId}:${encrypt(keys.jobCipherKey, code, aad(ctx))}`;
}

/** Opens a sealed stored code with the key it names; throws DecryptError when none in the ring can. */
export function openStoredCode(ring: readonly SecretKeys[], sealed: string, ctx: SealedCodeContext): string {
  const colon = sealed.indexOf(':');
  const keys = ring.find((candidate) => candidate.keyId === sealed.slice(0, colon));
  if (colon <= 0 || !keys) throw new DecryptError('No key in the ring sealed this code.');
  return decrypt(keys.jobCipherKey, sealed.slice(colon + 1), aad(ctx));
}
