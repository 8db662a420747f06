import {
  createStatusEvents,
  createStatusStore,
  type EventJobOptionsInput,
  eventsQueueName,
  isCluster,
  type StatusStore,
} from '@otp/core';
import { Queue } from 'bullmq';
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyInstance {
    /** Where each verification stands: queued, sent, delivered, verified, … */
    statusStore: StatusStore;
    /** The outbound events' queue (`<QUEUE_NAME>-events`), with EVENTS_WEBHOOK_URL set. */
    eventsQueue: Queue | null;
  }
}

export interface StatusStorePluginOptions {
  keyPrefix: string;
  /** How long records live. @defaultValue 86400 (the status store's default) */
  ttlSeconds?: number;
  /**
   * With EVENTS_WEBHOOK_URL: every status change written here is queued as an outbound
   * event (the worker delivers it). @defaultValue undefined (no events)
   */
  events?: { queueName: string; queuePrefix: string; jobOptions: EventJobOptionsInput };
}

/** The verification status store on the shared Redis connection, and its outbound events. */
export default fp<StatusStorePluginOptions>(
  async (fastify, { keyPrefix, ttlSeconds, events }) => {
    // As the send queue (plugins/otp.ts): fails at once while Redis is down, never waits.
    const queue = events
      ? new Queue(eventsQueueName(events.queueName, isCluster(fastify.redis)), {
          connection: fastify.redis,
          prefix: events.queuePrefix,
          skipWaitingForReady: true,
          skipVersionCheck: true,
        })
      : null;
    let onChange: Parameters<typeof createStatusStore>[0]['onChange'];
    if (queue && events) {
      // BullMQ re-emits connection errors on the queue; the redis plugin already logs them.
      queue.on('error', () => {});
      const log = fastify.log.child({ component: 'events' });
      onChange = createStatusEvents({
        queue,
        jobOptions: events.jobOptions,
        // The change itself is written: its event is lost, the request goes on.
        onEnqueueError: (err, change) => {
          fastify.metrics?.recordEventEnqueueError({ status: change.status });
          log.error(
            { err, verificationId: change.verificationId, status: change.status },
            'could not queue a status event; it is lost',
          );
        },
      });
      fastify.addHook('onClose', async () => {
        await queue.close();
      });
    }
    fastify.decorate('eventsQueue', queue);
    fastify.decorate(
      'statusStore',
      createStatusStore({ redis: fastify.redis, keyPrefix, ttlSeconds, ...(onChange ? { onChange } : {}) }),
    );
  },
  { name: 'status-store', dependencies: ['redis'] },
);
