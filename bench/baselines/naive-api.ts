// Baseline: the naive OTP API. Send = SET the code with a TTL + one BullMQ queue.add;
// verify = GET + compare (+ DEL on a match). No validation beyond the body schema, no
// limits, no hashing, no logs: what the service's answers are compared against.
// Started by bench/run.ts with an IPC channel; says its port once it listens.
import { randomInt } from 'node:crypto';
import { Queue } from 'bullmq';
import Fastify from 'fastify';
import { Redis } from 'ioredis';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};

const redis = new Redis(env('REDIS_URL'), { maxRetriesPerRequest: null });
const queue = new Queue(env('QUEUE_NAME'), { connection: redis, prefix: env('QUEUE_PREFIX') });
const codeKey = (phone: string) => `naive:code:${phone}`;

const app = Fastify({ logger: false });
app.post<{ Body: { phone_number: string } }>(
  '/send-otp/',
  {
    schema: {
      body: {
        type: 'object',
        required: ['phone_number'],
        properties: { phone_number: { type: 'string' } },
      },
    },
  },
  async (request) => {
    const phone = request.body.phone_number;
    const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
    await redis.set(codeKey(phone), code, 'EX', 600);
    await queue.add('send', { phone, code }, { removeOnComplete: true });
    return { message: 'sent' };
  },
);
app.post<{ Body: { phone_number: string; code: string } }>(
  '/verify-otp/',
  {
    schema: {
      body: {
        type: 'object',
        required: ['phone_number', 'code'],
        properties: { phone_number: { type: 'string' }, code: { type: 'string' } },
      },
    },
  },
  async (request, reply) => {
    const key = codeKey(request.body.phone_number);
    const stored = await redis.get(key);
    if (stored === null || stored !== request.body.code) {
      return reply.code(400).send({ error: 'invalid code' });
    }
    await redis.del(key);
    return { verified: true };
  },
);

await app.listen({ host: '127.0.0.1', port: 0 });
const address = app.server.address();
process.send?.({ type: 'ready', port: typeof address === 'object' && address ? address.port : 0 });

const stop = () =>
  void (async () => {
    await app.close();
    await queue.close();
    await redis.quit();
    process.exit(0);
  })();
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
process.once('disconnect', stop);
