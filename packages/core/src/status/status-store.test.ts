import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectTestRedis, deleteKeys, uniquePrefix } from '../../../../test/redis.js';
import type { DeliveryReportInput } from './status-store.js';
import { createStatusStore, type StatusStore } from './status-store.js';
import { interpretDeliveryReport, STATUS_RANK, type StoredStatus } from './verification-status.js';

let redis: Redis;
let prefix: string;
const PHONE = '+77088043414';
const DAY = 86_400;
const PROVIDER = 'acme';
const NEUTRAL: Record<number, DeliveryReportInput['status']> = {
  200: 'sent',
  100: 'sent',
  70: 'delivered',
  60: 'undelivered',
  91: 'undelivered',
};

/** A report as a provider package hands it over, from a Messaggio-like numeric code. */
function dlr(messageId: string, code: number, verificationId?: string): DeliveryReportInput {
  return {
    provider: PROVIDER,
    messageId,
    status: NEUTRAL[code] ?? 'unknown',
    providerStatus: String(code),
    ...(verificationId === undefined ? {} : { verificationId }),
  };
}

/** A clock the test moves by hand, so timestamps can be asserted exactly. */
function manualClock(start = Date.UTC(2026, 0, 1, 12)) {
  let time = start;
  return {
    now: () => time,
    tick: (ms = 1000) => {
      time += ms;
      return time;
    },
  };
}

function store(overrides: Partial<Parameters<typeof createStatusStore>[0]> = {}): StatusStore {
  return createStatusStore({ redis, keyPrefix: prefix, ...overrides });
}

async function queuedRecord(s: StatusStore, expiresAt = Date.now() + 600_000) {
  const verificationId = randomUUID();
  await s.queued({ verificationId, phone: PHONE, country: 'KZ', expiresAt, requestId: 'req-1' });
  return verificationId;
}

/** Moves a fresh record to `status` the way the service would get there. */
async function recordAt(s: StatusStore, status: StoredStatus) {
  const verificationId = await queuedRecord(s);
  const messageId = randomUUID();
  if (status === 'queued') return { verificationId, messageId };
  await s.sending({ verificationId, attempt: 1 });
  if (status === 'failed') await s.failed({ verificationId, reason: 'gave up', attempt: 1 });
  if (status === 'sending' || status === 'failed') return { verificationId, messageId };
  await s.sent({ verificationId, provider: PROVIDER, messageId, attempt: 1 });
  if (status === 'delivered') await s.deliveryReport(dlr(messageId, 70));
  if (status === 'undelivered') await s.deliveryReport(dlr(messageId, 60));
  if (status === 'verified') await s.verified({ verificationId });
  if (status === 'canceled') await s.canceled({ verificationId });
  return { verificationId, messageId };
}

/** Writes `status` to a record as its real source would. */
async function write(s: StatusStore, verificationId: string, messageId: string, status: StoredStatus) {
  switch (status) {
    case 'queued':
      return s.queued({ verificationId, phone: PHONE, country: 'KZ', expiresAt: Date.now() + 600_000 });
    case 'sending':
      return s.sending({ verificationId, attempt: 1 });
    case 'sent':
      return s.sent({ verificationId, provider: PROVIDER, messageId, attempt: 1 });
    // Messaggio echoes our verification id, which finds records whose message id is not indexed yet.
    case 'delivered':
      return s.deliveryReport(dlr(messageId, 70, verificationId));
    case 'undelivered':
      return s.deliveryReport(dlr(messageId, 60, verificationId));
    case 'failed':
      return s.failed({ verificationId, reason: 'late failure' });
    case 'verified':
      return s.verified({ verificationId });
    case 'canceled':
      return s.canceled({ verificationId });
  }
}

beforeAll(() => {
  redis = connectTestRedis();
  prefix = uniquePrefix('status-store');
});

afterAll(async () => {
  await deleteKeys(redis, prefix);
  await redis.quit();
});

describe('delivery report meaning', () => {
  it.each([
    ['sent', 'sent', true],
    ['delivered', 'delivered', true],
    ['undelivered', 'undelivered', true],
    ['unknown', 'sent', false],
  ] as const)('reads %s as %s (known: %s)', (status, meaning, known) => {
    expect(interpretDeliveryReport(status)).toEqual({ status: meaning, known });
  });
});

describe('status store (real Redis)', () => {
  it('records the whole path with a timestamp per status, and never the full phone', async () => {
    const clock = manualClock();
    const s = store({ now: clock.now });
    const verificationId = randomUUID();
    const messageId = randomUUID();
    const acceptedAt = clock.now();
    const expiresAt = acceptedAt + 600_000;
    expect(
      await s.queued({
        verificationId,
        phone: PHONE,
        country: 'KZ',
        expiresAt,
        requestId: 'req-42',
        at: acceptedAt,
      }),
    ).toEqual({ outcome: 'applied' });
    const t1 = clock.tick();
    expect(await s.sending({ verificationId, attempt: 1 })).toMatchObject({
      outcome: 'applied',
      previous: 'queued',
    });
    clock.tick();
    // A retry: same status, one more attempt.
    expect(await s.sending({ verificationId, attempt: 2 })).toMatchObject({ outcome: 'stale' });
    const t3 = clock.tick();
    expect(await s.sent({ verificationId, provider: PROVIDER, messageId, attempt: 2 })).toMatchObject({
      outcome: 'applied',
    });
    clock.tick();
    expect(await s.deliveryReport(dlr(messageId, 200))).toMatchObject({
      outcome: 'stale',
      verificationId,
      status: 'sent',
      requestId: 'req-42',
    });
    clock.tick();
    expect(await s.deliveryReport(dlr(messageId, 100))).toMatchObject({ outcome: 'stale' });
    const t6 = clock.tick();
    expect(await s.deliveryReport(dlr(messageId, 70))).toMatchObject({
      outcome: 'applied',
      status: 'delivered',
      previous: 'sent',
    });
    const t7 = clock.tick();
    expect(await s.verified({ verificationId })).toMatchObject({ outcome: 'applied', previous: 'delivered' });

    expect(await s.get(verificationId)).toEqual({
      verificationId,
      status: 'verified',
      phone: '+7708***3414',
      country: 'KZ',
      requestId: 'req-42',
      createdAt: new Date(acceptedAt),
      updatedAt: new Date(t7),
      expiresAt: new Date(expiresAt),
      attempts: 2,
      provider: PROVIDER,
      providerMessageId: messageId,
      reachedAt: {
        queued: new Date(acceptedAt),
        sending: new Date(t1),
        sent: new Date(t3),
        delivered: new Date(t6),
        verified: new Date(t7),
      },
    });
    const raw = JSON.stringify(await redis.hgetall(`${prefix}status:{${verificationId}}`));
    expect(raw).not.toContain(PHONE);
  });

  it('gives the record, the message index and the report de-duplication keys a 24 h TTL', async () => {
    const s = store();
    const { verificationId, messageId } = await recordAt(s, 'sent');
    await s.deliveryReport(dlr(messageId, 70));
    for (const key of [
      `${prefix}status:{${verificationId}}`,
      `${prefix}status-msg:{${PROVIDER}:${messageId}}`,
      `${prefix}status-dlr:{${verificationId}}:${PROVIDER}:${messageId}:70`,
    ]) {
      const ttl = await redis.ttl(key);
      expect(ttl, key).toBeGreaterThan(DAY - 10);
      expect(ttl, key).toBeLessThanOrEqual(DAY);
    }
  });

  it('keeps the TTL counted from the first write, not the last', async () => {
    const s = store({ ttlSeconds: 1000 });
    const { verificationId } = await recordAt(s, 'sending');
    const key = `${prefix}status:{${verificationId}}`;
    await redis.expire(key, 500);
    await s.sent({ verificationId, provider: PROVIDER, messageId: randomUUID() });
    expect(await redis.ttl(key)).toBeLessThanOrEqual(500);
  });

  const stored = Object.keys(STATUS_RANK) as StoredStatus[];
  const pairs = stored.flatMap((from) => stored.map((to) => [from, to] as const)).filter(([a, b]) => a !== b);

  it.each(pairs)('%s → %s moves forward only', async (from, to) => {
    const s = store();
    const { verificationId, messageId } = await recordAt(s, from);
    expect((await s.get(verificationId))?.status).toBe(from);
    await write(s, verificationId, messageId, to);
    const expected = STATUS_RANK[to] > STATUS_RANK[from] ? to : from;
    expect((await s.get(verificationId))?.status).toBe(expected);
  });

  it('ignores delivery reports that arrive out of order', async () => {
    const s = store();
    const { verificationId, messageId } = await recordAt(s, 'sent');
    expect(await s.deliveryReport(dlr(messageId, 70))).toMatchObject({ outcome: 'applied' });
    expect(await s.deliveryReport(dlr(messageId, 100))).toMatchObject({ outcome: 'stale' });
    expect(await s.deliveryReport(dlr(messageId, 200))).toMatchObject({ outcome: 'stale' });
    const record = await s.get(verificationId);
    expect(record?.status).toBe('delivered');
    expect(record?.reachedAt.delivered).toBeInstanceOf(Date);
  });

  it('reports a repeated (message_id, status) as a duplicate and changes nothing', async () => {
    const clock = manualClock();
    const s = store({ now: clock.now });
    const { verificationId, messageId } = await recordAt(s, 'sent');
    clock.tick();
    expect(await s.deliveryReport(dlr(messageId, 60))).toMatchObject({ outcome: 'applied' });
    const before = await s.get(verificationId);
    clock.tick();
    expect(await s.deliveryReport(dlr(messageId, 60))).toMatchObject({
      outcome: 'duplicate',
      verificationId,
      previous: 'undelivered',
    });
    expect(await s.get(verificationId)).toEqual(before);
  });

  it('keeps a message pending on an unknown status code, never failed', async () => {
    const s = store();
    const { verificationId, messageId } = await recordAt(s, 'sent');
    expect(await s.deliveryReport(dlr(messageId, 42))).toMatchObject({
      outcome: 'stale',
      status: 'sent',
      knownCode: false,
    });
    expect((await s.get(verificationId))?.status).toBe('sent');
    // And the real final report still lands afterwards.
    await s.deliveryReport(dlr(messageId, 70));
    expect((await s.get(verificationId))?.status).toBe('delivered');
  });

  it('never lets a late report overwrite verified', async () => {
    const s = store();
    const { verificationId, messageId } = await recordAt(s, 'sent');
    await s.verified({ verificationId });
    for (const statusCode of [200, 100, 60, 70, 91, 42]) {
      expect(await s.deliveryReport(dlr(messageId, statusCode))).toMatchObject({ outcome: 'stale' });
    }
    const record = await s.get(verificationId);
    expect(record?.status).toBe('verified');
    expect(record?.reachedAt.delivered).toBeUndefined();
  });

  it('keeps failed final for delivery, with its reason, but lets verified through', async () => {
    const s = store();
    const { verificationId, messageId } = await recordAt(s, 'failed');
    await s.sending({ verificationId, attempt: 2 });
    await s.sent({ verificationId, provider: PROVIDER, messageId });
    await s.deliveryReport(dlr(messageId, 70));
    expect(await s.get(verificationId)).toMatchObject({ status: 'failed', failureReason: 'gave up' });
    // The debug fallback put the code in the log and someone used it.
    await s.verified({ verificationId });
    expect((await s.get(verificationId))?.status).toBe('verified');
  });

  it('stores the failure code and a bounded reason', async () => {
    const s = store();
    const verificationId = await queuedRecord(s);
    await s.failed({ verificationId, reason: 'x'.repeat(2000), code: 'MESSAGGIO_FORBIDDEN', attempt: 1 });
    const record = await s.get(verificationId);
    expect(record).toMatchObject({ status: 'failed', failureCode: 'MESSAGGIO_FORBIDDEN', attempts: 1 });
    expect(record?.failureReason).toHaveLength(500);
  });

  it('derives expired once the code has expired, unless verified or failed', async () => {
    const s = store();
    const past = Date.now() - 1000;
    const queued = await queuedRecord(s, past);
    expect(await s.get(queued)).toMatchObject({
      status: 'expired',
      expiresAt: new Date(past),
      reachedAt: { queued: expect.any(Date), expired: new Date(past) },
    });
    const delivered = await queuedRecord(s, past);
    const messageId = randomUUID();
    await s.sent({ verificationId: delivered, provider: PROVIDER, messageId });
    await s.deliveryReport(dlr(messageId, 70));
    expect((await s.get(delivered))?.status).toBe('expired');
    const verified = await queuedRecord(s, past);
    await s.verified({ verificationId: verified });
    expect(await s.get(verified)).toMatchObject({ status: 'verified' });
    expect((await s.get(verified))?.reachedAt.expired).toBeUndefined();
    const failed = await queuedRecord(s, past);
    await s.failed({ verificationId: failed, reason: 'no balance' });
    expect((await s.get(failed))?.status).toBe('failed');
    // Still live: not expired.
    expect((await s.get(await queuedRecord(s)))?.status).toBe('queued');
  });

  it('finds a record by external_id when the report beats the worker’s own write', async () => {
    const s = store();
    const verificationId = await queuedRecord(s);
    await s.sending({ verificationId, attempt: 1 });
    const messageId = randomUUID();
    expect(await s.deliveryReport(dlr(messageId, 100, verificationId))).toMatchObject({
      outcome: 'applied',
      verificationId,
      status: 'sent',
    });
    expect(await s.get(verificationId)).toMatchObject({ status: 'sent', providerMessageId: messageId });
    // The worker's write that follows still records its attempt, and the status holds.
    await s.sent({ verificationId, provider: PROVIDER, messageId, attempt: 1 });
    expect(await s.get(verificationId)).toMatchObject({ status: 'sent', attempts: 1 });
  });

  it('answers unknown_message for an unknown message id and creates nothing', async () => {
    const s = store();
    expect(await s.deliveryReport(dlr(randomUUID(), 70))).toEqual({
      outcome: 'unknown_message',
    });
    const stranger = randomUUID();
    expect(await s.deliveryReport(dlr(randomUUID(), 70, stranger))).toEqual({ outcome: 'unknown_message' });
    expect(await redis.exists(`${prefix}status:{${stranger}}`)).toBe(0);
    expect(await s.get(stranger)).toBeUndefined();
  });

  it('completes a stub the worker wrote before the API recorded queued', async () => {
    const clock = manualClock();
    const s = store({ now: clock.now });
    const verificationId = randomUUID();
    const acceptedAt = clock.now();
    clock.tick();
    await s.sending({ verificationId, attempt: 1 });
    // Only the worker has written: nothing to show yet.
    expect(await s.get(verificationId)).toBeUndefined();
    clock.tick();
    expect(
      await s.queued({
        verificationId,
        phone: PHONE,
        country: 'KZ',
        expiresAt: acceptedAt + 600_000,
        at: acceptedAt,
      }),
    ).toEqual({ outcome: 'stale', previous: 'sending' });
    expect(await s.get(verificationId)).toMatchObject({
      status: 'sending',
      attempts: 1,
      createdAt: new Date(acceptedAt),
      reachedAt: { queued: new Date(acceptedAt), sending: new Date(acceptedAt + 1000) },
    });
  });

  it('ends at the highest status when reports race on separate connections', async () => {
    const s = store();
    const { verificationId, messageId } = await recordAt(s, 'sent');
    const clients = Array.from({ length: 6 }, () => connectTestRedis());
    try {
      const results = await Promise.all(
        clients.map((client, i) =>
          store({ redis: client }).deliveryReport(dlr(messageId, [200, 100, 70][i % 3] ?? 70)),
        ),
      );
      expect(results.filter((r) => r.outcome === 'duplicate')).toHaveLength(3);
      expect(results.filter((r) => r.outcome === 'applied')).toHaveLength(1);
      expect((await s.get(verificationId))?.status).toBe('delivered');
    } finally {
      await Promise.all(clients.map((c) => c.quit()));
    }
  });

  it('keys the message index by provider, so equal ids from two providers do not collide', async () => {
    const s = store();
    const first = await queuedRecord(s);
    const second = await queuedRecord(s);
    const messageId = randomUUID();
    await s.sent({ verificationId: first, provider: 'one', messageId, attempt: 1 });
    await s.sent({ verificationId: second, provider: 'two', messageId, attempt: 1 });
    const report = { messageId, status: 'delivered' as const };
    expect(await s.deliveryReport({ provider: 'two', ...report })).toMatchObject({ verificationId: second });
    expect(await s.get(first)).toMatchObject({ status: 'sent', provider: 'one' });
    expect(await s.get(second)).toMatchObject({ status: 'delivered', provider: 'two' });
    expect(await s.deliveryReport({ provider: 'three', ...report })).toEqual({ outcome: 'unknown_message' });
  });

  it('returns undefined for a verification it never saw', async () => {
    expect(await store().get(randomUUID())).toBeUndefined();
  });
});

describe('status store: metadata, the number for cancel, and onChange (real Redis)', () => {
  it('keeps the metadata and the E.164 number; drops the number once canceled', async () => {
    const s = store();
    const verificationId = randomUUID();
    const metadata = { user_id: 'u_1', 'flow.step': 'два' };
    await s.queued({ verificationId, phone: PHONE, country: 'KZ', expiresAt: Date.now() + 60_000, metadata });
    expect(await s.get(verificationId)).toMatchObject({ phoneE164: PHONE, metadata, phone: '+7708***3414' });
    expect(await s.canceled({ verificationId })).toMatchObject({ outcome: 'applied', previous: 'queued' });
    const record = await s.get(verificationId);
    expect(record).toMatchObject({ status: 'canceled', metadata });
    expect(record?.phoneE164).toBeUndefined();
    expect(JSON.stringify(await redis.hgetall(`${prefix}status:{${verificationId}}`))).not.toContain(PHONE);
  });

  it('never derives expired for a canceled record, and cancel never creates one', async () => {
    const clock = manualClock();
    const s = store({ now: clock.now });
    const verificationId = await queuedRecord(s, clock.now() + 1000);
    await s.canceled({ verificationId });
    clock.tick(5000);
    expect((await s.get(verificationId))?.status).toBe('canceled');
    expect(await s.canceled({ verificationId: randomUUID() })).toEqual({ outcome: 'missing' });
  });

  it('tells onChange of queued and of every write that moved a record on, and of nothing else', async () => {
    const changes: string[] = [];
    const s = store({
      onChange: async (change) => {
        changes.push(`${change.status}<${change.previous ?? ''}`);
      },
    });
    const { verificationId, messageId } = await recordAt(s, 'sent');
    await s.deliveryReport(dlr(messageId, 70));
    await s.deliveryReport(dlr(messageId, 70)); // duplicate
    await s.deliveryReport(dlr(messageId, 60)); // stale: delivered outranks it
    await s.verified({ verificationId });
    await s.canceled({ verificationId }); // stale: verified outranks it
    expect(changes).toEqual([
      'queued<',
      'sending<queued',
      'sent<sending',
      'delivered<sent',
      'verified<delivered',
    ]);
  });
});
