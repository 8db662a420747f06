import { createStatusStore, type StatusStore } from '@otp/core';
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyInstance {
    /** Where each verification stands: queued, sent, delivered, verified, … */
    statusStore: StatusStore;
  }
}

export interface StatusStorePluginOptions {
  keyPrefix: string;
  /** How long records live. @defaultValue 86400 (the status store's default) */
  ttlSeconds?: number;
}

/** The verification status store on the shared Redis connection. */
export default fp<StatusStorePluginOptions>(
  async (fastify, { keyPrefix, ttlSeconds }) => {
    fastify.decorate('statusStore', createStatusStore({ redis: fastify.redis, keyPrefix, ttlSeconds }));
  },
  { name: 'status-store', dependencies: ['redis'] },
);
