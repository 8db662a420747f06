/**
 * The send queues: QUEUE_SHARDS of them. One shard on one Redis is QUEUE_NAME itself, as it
 * always was. Otherwise each name carries its own hash tag (`{otp-sms-0}`, …): BullMQ keeps
 * all of a queue's keys in one cluster slot that way, and the shards spread over the slots
 * (and so over the masters) of a cluster.
 */
export function sendQueueNames(baseName: string, shards: number, cluster: boolean): string[] {
  if (shards <= 1) return [cluster ? `{${baseName}}` : baseName];
  return Array.from({ length: shards }, (_, i) => `{${baseName}-${i}}`);
}

/** FNV-1a, 32 bits: a stable, well-spread hash of a short string. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** The shard a phone's sends go to: the same one every time, on every API process. */
export function shardIndex(phone: string, shards: number): number {
  return shards <= 1 ? 0 : fnv1a(phone) % shards;
}
