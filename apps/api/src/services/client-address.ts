import { isIP } from 'node:net';

/**
 * The address per-IP limits count a caller by. `candidate` is request.ip (X-Forwarded-For
 * when a proxy is trusted): anything that is not an IP address (`not-an-ip`, 8,000
 * characters) is ignored in favour of the socket's address, so a header cannot mint Redis
 * keys. IPv6 callers are grouped by prefix, since one subscriber gets a whole /64 (or /56)
 * and could otherwise rotate through 2^64 buckets.
 */
export function clientAddress(
  candidate: string | undefined,
  socketAddress: string | undefined,
  ipv6PrefixLength = 64,
): string {
  for (const address of [candidate, socketAddress]) {
    if (address === undefined) continue;
    const version = isIP(address);
    if (version === 4) return address;
    if (version === 6) {
      const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
      if (mapped?.[1]) return mapped[1];
      return ipv6Prefix(address, ipv6PrefixLength);
    }
  }
  return 'unknown';
}

/** The first `bits` bits of a valid IPv6 address, as `2001:db8:1:2::/64`. */
export function ipv6Prefix(address: string, bits: number): string {
  const groups = expandIpv6(address);
  const out: number[] = [];
  for (let i = 0; i < 8; i += 1) {
    const keep = Math.max(0, Math.min(16, bits - i * 16));
    const mask = keep === 0 ? 0 : (0xffff << (16 - keep)) & 0xffff;
    out.push((groups[i] ?? 0) & mask);
  }
  // Trailing zero groups are dropped (the prefix length says how many bits count).
  let last = out.length;
  while (last > 0 && out[last - 1] === 0) last -= 1;
  const head = out.slice(0, last).map((g) => g.toString(16));
  return `${head.join(':')}${last < 8 ? '::' : ''}/${bits}`;
}

/** Eight 16-bit groups of a valid IPv6 address (`::` and an embedded IPv4 included). */
function expandIpv6(address: string): number[] {
  let text = address.split('%')[0] ?? address;
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [left = '', right] = text.split('::');
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((g) => Number.parseInt(g, 16)));
  const head = parse(left);
  if (right === undefined) return head;
  const tail = parse(right);
  return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}
