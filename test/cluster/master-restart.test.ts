import { sendQueueNames } from '@otp/core';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { clusterOk, startNode, stopNode } from './local-cluster.js';
import { type ClusterSystem, startClusterSystem, until } from './system.js';

const phone = (i: number) => `+7701${String(4_000_000 + i).slice(-7)}`;

let system: ClusterSystem | undefined;
afterEach(async () => {
  await system?.close();
  system = undefined;
});

/** The port of the master that serves `key`'s slot. */
async function masterOf(s: ClusterSystem, key: string): Promise<number> {
  const slot = Number(await s.redis.cluster('KEYSLOT', key));
  const ranges = await s.redis.cluster('SLOTS');
  const range = ranges.find(([from, to]) => slot >= from && slot <= to);
  const master = range?.[2];
  if (!master) throw new Error(`no master serves slot ${slot}`);
  return Number(master[1]);
}

describe('a master restarted under traffic (QUEUE_SHARDS=3)', () => {
  it('its slots answer 503, the others keep serving, and once it is back every accepted send is delivered by the same worker', async () => {
    system = await startClusterSystem({
      env: {
        QUEUE_SHARDS: '3',
        // No shared counter (the daily budget, the fraud guard's per-country count: one key
        // each, so one master every send needs): a send then needs only its phone's slot,
        // its range's and its shard's.
        SMS_DAILY_BUDGET: '0',
        FRAUD_GUARD: 'off',
        REDIS_COMMAND_TIMEOUT_MS: '500',
      },
    });
    const s = system;
    const names = sendQueueNames(s.env.QUEUE_NAME as string, 3, true);
    const worker = s.workers[0];
    if (!worker) throw new Error('no worker');
    const victim = await masterOf(s, `${names[0]}`);

    // Jobs waiting in every shard when the master goes: the worker is paused (in-process,
    // not restarted) so none is taken before.
    await Promise.all(worker.workers.map((w) => w.pause(true)));
    const before = Array.from({ length: 30 }, (_, i) => phone(i));
    const beforeAnswers = await Promise.all(before.map((p) => s.send(p)));
    expect(beforeAnswers.map((a) => a.status)).toEqual(before.map(() => 200));

    await stopNode(victim);
    const during = Array.from({ length: 30 }, (_, i) => phone(100 + i));
    const duringAnswers = await Promise.all(during.map((p) => s.send(p)));
    // Never a 500 or a hang: a send whose slot is down answers 503, the rest go on.
    for (const answer of duringAnswers) expect([200, 503]).toContain(answer.status);
    const accepted = during.filter((_, i) => duringAnswers[i]?.status === 200);
    expect(accepted.length).toBeGreaterThan(0);
    expect(accepted.length).toBeLessThan(during.length);
    for (const [i, p] of during.entries()) {
      const phoneOnVictim = (await masterOf(s, `{${p}}`)) === victim;
      if (phoneOnVictim) expect(duringAnswers[i]?.status).toBe(503);
    }

    worker.workers.forEach((w) => {
      w.resume();
    });
    await startNode(victim, inject('clusterDir'));
    await until('cluster_state:ok again', () => clusterOk([victim]).catch(() => false), 60_000);

    // The same API process serves the recovered slots again.
    await until(
      'a send to the restarted master',
      async () => (await s.send(phone(200))).status === 200,
      60_000,
    );
    const expected = [...before, ...accepted, phone(200)];
    await until(
      `${expected.length} phones to get their SMS`,
      () => expected.every((p) => s.codeSentTo(p) !== undefined),
      90_000,
    );
    const perPhone = new Map<string, number>();
    for (const message of s.fake.sent) perPhone.set(message.phone, (perPhone.get(message.phone) ?? 0) + 1);
    const duplicates = [...perPhone.values()].reduce((sum, n) => sum + n - 1, 0);
    process.stdout.write(
      `[cluster] master :${victim} restarted: ${accepted.length}/${during.length} sends accepted during the outage, ${expected.length} delivered after it, ${duplicates} duplicate(s)\n`,
    );
  });
});
