import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { DecryptError, decrypt, encrypt, LuaScript, type RedisClient } from '@otp/core';
import { calculateJwkThumbprint, exportJWK, type JWK, SignJWT } from 'jose';

/** The algorithms a signing key may use: asymmetric, so relying services hold no secret. */
export type TokenAlgorithm = 'EdDSA' | 'ES256';

export interface SigningKey {
  key: KeyObject;
  alg: TokenAlgorithm;
}

export interface VerificationTokenSettings {
  /** Token lifetime. @defaultValue 300 */
  ttlSeconds: number;
  issuer: string;
  audience: string;
  /** The configured key; undefined = one is generated and kept (sealed) in Redis. */
  signingKey?: SigningKey;
}

export interface VerificationTokenOptions {
  redis: RedisClient;
  keyPrefix: string;
  settings: VerificationTokenSettings;
  /** AES-256-GCM keys that seal the generated key in Redis: the first seals, each may open. */
  sealKeys: readonly Buffer[];
  /** @defaultValue Date.now */
  now?: () => number;
}

/** A public signing key as the JWKS publishes it (OKP Ed25519 or EC P-256). */
export interface PublicJwk {
  kty: string;
  crv: string;
  x: string;
  y?: string;
  kid: string;
  alg: TokenAlgorithm;
  use: 'sig';
}

export interface VerificationTokens {
  /** The signed answer to a right code. */
  sign(claims: { phone: string; verificationId: string; purpose?: string }): Promise<string>;
  /** The keys a relying service checks tokens with: the current one and those retired less than a TTL ago. */
  jwks(): Promise<{ keys: PublicJwk[] }>;
}

/** Reads a PEM private key (PKCS#8) and picks its algorithm; throws a message for config. */
export function parseSigningKey(pem: string): SigningKey {
  let key: KeyObject;
  try {
    // Env files and secret stores often carry a PEM on one line with literal "\n".
    key = createPrivateKey(pem.includes('\\n') ? pem.replaceAll('\\n', '\n') : pem);
  } catch {
    throw new Error('is not a PEM private key');
  }
  if (key.asymmetricKeyType === 'ed25519') return { key, alg: 'EdDSA' };
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') {
    return { key, alg: 'ES256' };
  }
  throw new Error('must be an Ed25519 or P-256 (EC) private key');
}

async function publicJwk({ key, alg }: SigningKey): Promise<PublicJwk> {
  const jwk: JWK = await exportJWK(createPublicKey(key));
  // The thumbprint (RFC 7638) names the key by its content: every process holding the same
  // key publishes the same kid, and a changed key gets a new one.
  const kid = await calculateJwkThumbprint(jwk);
  return {
    kty: String(jwk.kty),
    crv: String(jwk.crv),
    x: String(jwk.x),
    ...(jwk.y === undefined ? {} : { y: jwk.y }),
    kid,
    alg,
    use: 'sig',
  };
}

interface StoredKey {
  kid: string;
  /** The PKCS#8 PEM, sealed with a key derived from OTP_SECRET. */
  sealed: string;
}

// Replaces a stored key only if it is still the one this process could not open, so two
// processes that both find it unusable agree on one replacement.
const replaceScript = new LuaScript(
  'verification-token-key-replace',
  `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2]) end
return redis.call('GET', KEYS[1])
`,
  1,
);

const sealContext = (kid: string) => `verification-token-key|${kid}`;

/**
 * Signs the `verification_token` of a right code and publishes its public keys. The key is
 * imported (or generated, or opened from Redis) once; signing costs one signature per
 * successful verify. Key state shared by every API process on one Redis prefix:
 * - `vtoken:key`: the generated key (sealed), set with NX so processes that start together agree;
 * - `vtoken:current`: the public key processes sign with now;
 * - `vtoken:retired`: public keys replaced less than one token TTL ago (score = until when, ms).
 */
export function createVerificationTokens(options: VerificationTokenOptions): VerificationTokens & {
  /** Loads the key and announces it; run once at start-up, retried by the first use if it failed. */
  init(): Promise<void>;
} {
  const { redis, settings } = options;
  const now = options.now ?? Date.now;
  const keys = {
    generated: `${options.keyPrefix}vtoken:key`,
    current: `${options.keyPrefix}vtoken:current`,
    retired: `${options.keyPrefix}vtoken:retired`,
  };
  const [sealKey] = options.sealKeys;
  if (!sealKey) throw new Error('createVerificationTokens needs a seal key');

  function open(stored: StoredKey): SigningKey | undefined {
    for (const candidate of options.sealKeys) {
      try {
        return parseSigningKey(decrypt(candidate, stored.sealed, sealContext(stored.kid)));
      } catch (err) {
        if (!(err instanceof DecryptError)) throw err;
      }
    }
    return undefined;
  }

  async function generate(): Promise<{ signing: SigningKey; raw: string }> {
    const { privateKey } = generateKeyPairSync('ed25519');
    const signing: SigningKey = { key: privateKey, alg: 'EdDSA' };
    const { kid } = await publicJwk(signing);
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const stored: StoredKey = { kid, sealed: encrypt(sealKey as Buffer, pem, sealContext(kid)) };
    return { signing, raw: JSON.stringify(stored) };
  }

  async function sharedKey(): Promise<SigningKey> {
    const fresh = await generate();
    // NX: the first process to start keeps its key; everybody else uses the stored one.
    const won = await redis.set(keys.generated, fresh.raw, 'NX');
    if (won === 'OK') return fresh.signing;
    const raw = await redis.get(keys.generated);
    if (raw === null) return sharedKey();
    const opened = open(JSON.parse(raw) as StoredKey);
    if (opened) return opened;
    // Sealed under an OTP_SECRET this process does not know (rotated without
    // OTP_SECRET_PREVIOUS): nobody can sign with it, so a new key takes its place.
    const replaced = (await replaceScript.run(redis, [keys.generated], [raw, fresh.raw])) as string;
    if (replaced === fresh.raw) return fresh.signing;
    const other = open(JSON.parse(replaced) as StoredKey);
    if (!other) throw new Error('the stored verification-token key cannot be opened');
    return other;
  }

  let loaded: { signing: SigningKey; jwk: PublicJwk } | undefined;
  let loading: Promise<{ signing: SigningKey; jwk: PublicJwk }> | undefined;

  async function load() {
    const signing = settings.signingKey ?? (await sharedKey());
    const jwk = await publicJwk(signing);
    // A changed key (new PEM, or a replaced generated key): the one before it stays in the
    // JWKS for one token TTL, so the tokens it signed keep verifying until they expire.
    const previous = await redis.set(keys.current, JSON.stringify(jwk), 'GET');
    if (previous !== null) {
      const old = JSON.parse(previous) as PublicJwk;
      if (old.kid !== jwk.kid) {
        const until = now() + settings.ttlSeconds * 1000;
        await redis
          .multi()
          .zadd(keys.retired, until, previous)
          .pexpire(keys.retired, settings.ttlSeconds * 1000)
          .exec();
      }
    }
    loaded = { signing, jwk };
    return loaded;
  }

  function ready() {
    if (loaded) return Promise.resolve(loaded);
    loading ??= load().catch((err: unknown) => {
      loading = undefined;
      throw err;
    });
    return loading;
  }

  return {
    async init() {
      await ready();
    },

    async sign({ phone, verificationId, purpose }) {
      const { signing, jwk } = await ready();
      const iat = Math.floor(now() / 1000);
      return new SignJWT({
        phone_number_verified: true,
        verification_id: verificationId,
        ...(purpose === undefined ? {} : { purpose }),
      })
        .setProtectedHeader({ alg: signing.alg, kid: jwk.kid, typ: 'JWT' })
        .setSubject(phone)
        .setJti(verificationId)
        .setIssuer(settings.issuer)
        .setAudience(settings.audience)
        .setIssuedAt(iat)
        .setExpirationTime(iat + settings.ttlSeconds)
        .sign(signing.key);
    },

    async jwks() {
      const { jwk } = await ready();
      const at = now();
      const [current, retired] = await Promise.all([
        redis.get(keys.current),
        redis.zrangebyscore(keys.retired, at, '+inf'),
      ]);
      // This process's key, the one announced last (another process may have rotated
      // already), and the recently retired ones; each once.
      const byKid = new Map<string, PublicJwk>([[jwk.kid, jwk]]);
      for (const raw of [current, ...retired]) {
        if (raw === null) continue;
        const key = JSON.parse(raw) as PublicJwk;
        if (!byKid.has(key.kid)) byKid.set(key.kid, key);
      }
      return { keys: [...byKid.values()] };
    },
  };
}
