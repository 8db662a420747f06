import { deriveSecretKey } from '@otp/core';
import fp from 'fastify-plugin';
import type { ApiConfig } from '../config.js';
import { createVerificationTokens, type VerificationTokens } from '../services/verification-tokens.js';

declare module 'fastify' {
  interface FastifyInstance {
    verificationTokens: VerificationTokens;
  }
}

const SEAL_PURPOSE = 'verification-token-key';

/**
 * Signs `verification_token` and serves the JWKS. The key is loaded at start-up, in the
 * background: an API that starts while Redis is down still starts (and answers 503 like
 * every other Redis-backed route); the first use retries the load.
 */
export default fp<{ config: ApiConfig; clock?: () => number }>(
  async (fastify, { config, clock }) => {
    const tokens = createVerificationTokens({
      redis: fastify.redis,
      keyPrefix: config.redisKeyPrefix,
      settings: config.verificationToken,
      sealKeys: [config.otpSecret, ...(config.otpSecretPrevious ? [config.otpSecretPrevious] : [])].map(
        (secret) => deriveSecretKey(secret, SEAL_PURPOSE),
      ),
      ...(clock ? { now: clock } : {}),
    });
    const starting = tokens.init().catch((err: unknown) => {
      fastify.log.warn({ err }, 'verification-token key not loaded yet; the first use retries');
    });
    fastify.decorate('verificationTokens', tokens);
    fastify.addHook('onReady', async () => {
      await starting;
    });
    fastify.addHook('onClose', async () => {
      await starting;
    });
  },
  { name: 'verification-tokens', dependencies: ['redis'] },
);
