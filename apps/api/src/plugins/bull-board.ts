import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

export interface BullBoardPluginOptions {
  /** @defaultValue '/admin/queues' */
  basePath?: string;
}

/**
 * Bull Board over the send queue (and the events queue, when on), behind the admin credentials. Not registered at all when
 * none are configured, so its paths answer 404. Jobs carry the code only sealed
 * (AES-256-GCM), so the board shows ciphertext, never a code.
 */
export default fp<BullBoardPluginOptions>(
  async (fastify, { basePath = '/admin/queues' }) => {
    if (!fastify.adminEnabled) return;
    const serverAdapter = new FastifyAdapter();
    serverAdapter.setBasePath(basePath);
    createBullBoard({
      queues: [
        ...fastify.sendQueues.map(
          (queue) => new BullMQAdapter(queue, { description: 'SMS sends (one job per code)' }),
        ),
        ...(fastify.eventsQueue
          ? [
              new BullMQAdapter(fastify.eventsQueue, {
                description: 'Outbound status events (ids only) and expiry checks',
              }),
            ]
          : []),
      ],
      serverAdapter,
      options: { uiConfig: { boardTitle: 'OTP queues' } },
    });
    // A child context: the hook covers every Bull Board route (pages, API, static files),
    // and Bull Board's own error handler stays inside it.
    await fastify.register(async (board: FastifyInstance) => {
      board.addHook('onRequest', fastify.adminAuth);
      await board.register(serverAdapter.registerPlugin(), { prefix: basePath });
    });
  },
  { name: 'bull-board', dependencies: ['otp', 'admin-auth', 'status-store'] },
);
