import {
  createCodeStore,
  DEFAULT_SEND_QUEUE,
  deriveKeyRing,
  deriveKeys,
  heartbeatKeys,
  isCluster,
  liveWorkerTransports,
  sendQueueNames,
  shardIndex,
} from '@otp/core';
import { Queue } from 'bullmq';
import fp from 'fastify-plugin';
import type { ApiConfig } from '../config.js';
import { createFraudGuard, type FraudGuard } from '../services/fraud-guard.js';
import { createOtpService, type OtpService } from '../services/otp-service.js';

declare module 'fastify' {
  interface FastifyInstance {
    otp: OtpService;
    /** The first (with QUEUE_SHARDS=1 the only) send queue. */
    sendQueue: Queue;
    /** Every send queue (QUEUE_SHARDS), in shard order. */
    sendQueues: readonly Queue[];
    /** Per-range counters and blocks against SMS pumping (FRAUD_GUARD). */
    fraudGuard: FraudGuard;
  }
  interface FastifyRequest {
    /** The country of the phone an OTP request was about, once the service has read it. */
    phoneCountry: string | null;
  }
}

/** The OTP service and its producer queue, built from config and the shared Redis. */
export default fp<{ config: ApiConfig; clock?: () => number }>(
  async (fastify, { config, clock }) => {
    const names = sendQueueNames(
      config.queueName || DEFAULT_SEND_QUEUE,
      config.queueShards ?? 1,
      isCluster(fastify.redis),
    );
    const queues = names.map((name) => {
      const queue = new Queue(name, {
        connection: fastify.redis,
        prefix: config.queuePrefix,
        // The producer never waits for Redis: each command fails at once while it is down
        // (the offline queue is off), which is the 503 we want. Waiting for 'ready' also left
        // a promise behind that, once the queue was closed before its shared connection ended
        // (app.close() with Redis down), rejected with nobody listening: the suite's
        // "Unhandled Rejection: connect ECONNREFUSED". The version check needs Redis too, and
        // only picks between equivalent scripts for Redis < 6.0.6.
        skipWaitingForReady: true,
        skipVersionCheck: true,
      });
      // BullMQ re-emits connection errors on the queue; the redis plugin already logs them.
      queue.on('error', () => {});
      return queue;
    });
    const queue = queues[0] as Queue;
    const store = createCodeStore({
      redis: fastify.redis,
      keyPrefix: config.redisKeyPrefix,
      ttlSeconds: config.otpTtlSeconds,
      maxAttempts: config.otpMaxAttempts,
      resendCooldownSeconds: config.resendCooldownSeconds,
      failedVerifies: {
        max: config.failedVerifiesPerHour,
        windowMs: 3_600_000,
        phoneCeiling: config.failedVerifiesCeiling,
        perClient: config.failedVerifiesPerIpPerHour,
      },
    });
    const fraudGuard = createFraudGuard({
      redis: fastify.redis,
      keyPrefix: config.redisKeyPrefix,
      settings: config.fraud,
    });
    fastify.decorate('sendQueue', queue);
    fastify.decorate('sendQueues', queues);
    fastify.decorate('fraudGuard', fraudGuard);
    fastify.decorateRequest('phoneCountry', null);
    fastify.decorate(
      'otp',
      createOtpService({
        store,
        queue,
        // A phone's sends always take the same shard, so its jobs stay in order.
        ...(queues.length > 1
          ? { queueFor: (phone: string) => queues[shardIndex(phone, queues.length)] as Queue }
          : {}),
        keys: deriveKeys(config.otpSecret),
        keyRing: deriveKeyRing(config.otpSecret, config.otpSecretPrevious),
        allowedCountries: config.allowedCountries,
        otpLength: config.otpLength,
        otpTtlSeconds: config.otpTtlSeconds,
        resendCooldownSeconds: config.resendCooldownSeconds,
        resendSameCode: config.resendSameCode,
        jobOptions: { maxAttempts: config.smsMaxAttempts, backoffDelayMs: config.smsRetryBaseDelayMs },
        debugMode: config.debugMode,
        loopbackExemptFromIpLimit: config.debugMode,
        liveTransports: () =>
          liveWorkerTransports(
            fastify.redis,
            heartbeatKeys(
              config.redisKeyPrefix,
              config.queueName || DEFAULT_SEND_QUEUE,
              isCluster(fastify.redis),
            ),
          ),
        status: fastify.statusStore,
        limits: { ...config.limits, keyPrefix: config.redisKeyPrefix },
        blockedPrefixes: config.blockedPrefixes,
        testNumbers: config.testNumbers,
        purposes: config.purposes,
        fraud: fraudGuard,
        now: clock,
      }),
    );
    fastify.addHook('onClose', async () => {
      await fastify.otp.close();
      await Promise.all(queues.map((q) => q.close()));
    });
  },
  { name: 'otp', dependencies: ['redis', 'status-store'] },
);
