// Baseline: a plain BullMQ worker whose processor only POSTs the SMS to (fake) Messaggio
// with global fetch: the same body the service's worker sends, nothing else (no liveness
// check, no status record, no metrics).
// Started by bench/run.ts with an IPC channel; says so once the worker is ready.
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};

interface NaiveJob {
  phone: string;
  code: string;
  id?: string;
}

const sendUrl = `${env('FAKE_BASE_URL').replace(/\/+$/, '')}/send`;
const login = env('FAKE_LOGIN');
const sender = env('FAKE_SENDER');

const connection = new Redis(env('REDIS_URL'), { maxRetriesPerRequest: null });
const worker = new Worker<NaiveJob>(
  env('QUEUE_NAME'),
  async (job) => {
    const body = {
      recipients: [{ phone: job.data.phone.replace(/^\+/, '') }],
      channels: ['sms'],
      options: { ttl: 600, external_id: job.data.id ?? job.id },
      sms: { from: sender, content: [{ type: 'text', text: `Ваш код подтверждения: ${job.data.code}` }] },
    };
    const response = await fetch(sendUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', 'messaggio-login': login },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`fake Messaggio answered ${response.status}: ${text}`);
  },
  { connection, prefix: env('QUEUE_PREFIX'), concurrency: Number(env('CONCURRENCY')) },
);
worker.on('error', (err) => console.error('plain worker:', err));
await worker.waitUntilReady();
process.send?.({ type: 'ready' });

const stop = () =>
  void (async () => {
    await worker.close();
    await connection.quit();
    process.exit(0);
  })();
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
process.once('disconnect', stop);
