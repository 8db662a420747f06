// Baseline: a bare Fastify route that parses the JSON body and answers a constant: the
// ceiling of what one Node process does over HTTP here, whatever the route does.
// Started by bench/run.ts with an IPC channel; says its port once it listens.
import Fastify from 'fastify';

const app = Fastify({ logger: false });
app.post('/send-otp/', async () => ({ message: 'ok' }));

await app.listen({ host: '127.0.0.1', port: 0 });
const address = app.server.address();
process.send?.({ type: 'ready', port: typeof address === 'object' && address ? address.port : 0 });

const stop = () => void app.close().then(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
// The bench went away without stopping us: go too.
process.once('disconnect', stop);
