// The project's fake Messaggio (@otp/messaggio, built), as a process of its own so its CPU
// is not the bench driver's. Started by bench/run.ts with an IPC channel, which carries
// the commands below; the latency knob is the fake's own setLatency (a sleep per request
// after the body is read).
import { createFakeMessaggio } from '@otp/messaggio/testing';

const login = process.env.FAKE_LOGIN ?? 'bench-login';
const sender = process.env.FAKE_SENDER ?? 'BENCH';

type Command =
  | { id: number; type: 'setup'; latencyMs: number }
  | { id: number; type: 'wait'; accepted: number; timeoutMs: number }
  | { id: number; type: 'count' };

const fake = await createFakeMessaggio({ logins: [login], senders: [sender], host: '127.0.0.1', port: 0 });
const now = () => performance.timeOrigin + performance.now();

process.on('message', (message: Command) => {
  const reply = (body: Record<string, unknown>) => process.send?.({ id: message.id, ...body });
  switch (message.type) {
    case 'setup':
      // Forgets what earlier runs sent, so counts start at zero.
      fake.reset();
      fake.setLatency(message.latencyMs);
      reply({ ok: true });
      break;
    case 'wait':
      fake.waitForRequests(message.accepted, { acceptedOnly: true, timeoutMs: message.timeoutMs }).then(
        () => reply({ ok: true, at: now(), accepted: fake.sent.length, requests: fake.requests.length }),
        (err: unknown) => reply({ ok: false, error: err instanceof Error ? err.message : String(err) }),
      );
      break;
    case 'count':
      reply({ ok: true, accepted: fake.sent.length, requests: fake.requests.length });
      break;
  }
});
process.send?.({ type: 'ready', baseUrl: fake.baseUrl });

const stop = () => void fake.close().then(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
process.once('disconnect', stop);
