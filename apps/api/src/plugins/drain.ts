import fp from 'fastify-plugin';

export interface DrainOptions {
  /** How often idle keep-alive connections are closed while draining, ms. @defaultValue 50 */
  idleSweepMs?: number;
}

/**
 * A graceful close that ends under load. Node closes idle keep-alive connections once, when
 * close() starts; a connection whose request was in flight then turns idle and, left alone,
 * stays open for keepAliveTimeout (72 s), holding close() open: every rolling deploy under
 * traffic used to run into SHUTDOWN_TIMEOUT_MS and exit 1. So while draining, every answer
 * says `Connection: close` (the client does not reuse the socket and Node ends it after the
 * answer), and connections that still turn idle are closed as they do. Requests already
 * accepted are answered; new connections are refused, as the server stopped listening.
 */
export default fp<DrainOptions>(
  async (fastify, { idleSweepMs = 50 }) => {
    let draining = false;
    let sweep: NodeJS.Timeout | undefined;
    fastify.addHook('preClose', async () => {
      draining = true;
      if (fastify.server.listening) {
        sweep = setInterval(() => fastify.server.closeIdleConnections(), idleSweepMs);
      }
    });
    fastify.addHook('onSend', async (_request, reply, payload) => {
      if (draining) reply.header('connection', 'close');
      return payload;
    });
    fastify.addHook('onClose', async () => {
      clearInterval(sweep);
    });
  },
  { name: 'drain' },
);
