import { describe, expect, it } from 'vitest';
import { clientAddress, ipv6Prefix } from './client-address.js';

describe('clientAddress', () => {
  it('keeps a valid IPv4 address', () => {
    expect(clientAddress('203.0.113.7', '10.0.0.1')).toBe('203.0.113.7');
    expect(clientAddress('::ffff:203.0.113.7', undefined)).toBe('203.0.113.7');
  });

  it.each([['not-an-ip'], ['x'.repeat(8000)], [''], ['1.2.3.4, 5.6.7.8'], ['203.0.113.7:80']])(
    'falls back to the socket address for %s',
    (candidate) => {
      expect(clientAddress(candidate.slice(0, 8000), '10.0.0.1')).toBe('10.0.0.1');
    },
  );

  it('groups IPv6 addresses by /64 by default, and by a configured shorter prefix', () => {
    const a = clientAddress('2001:db8:1:2:aaaa::1', undefined);
    const b = clientAddress('2001:db8:1:2:ffff:1:2:3', undefined);
    expect(a).toBe('2001:db8:1:2::/64');
    expect(b).toBe(a);
    expect(clientAddress('2001:db8:1:3::1', undefined)).not.toBe(a);
    expect(clientAddress('2001:db8:1:3::1', undefined, 56)).toBe(
      clientAddress('2001:db8:1:2::1', undefined, 56),
    );
    expect(clientAddress('2001:db8:1:1ff::1', undefined, 56)).toBe('2001:db8:1:100::/56');
  });

  it('expands :: and embedded IPv4 before taking the prefix', () => {
    expect(ipv6Prefix('::1', 64)).toBe('::/64');
    expect(ipv6Prefix('fe80::1%eth0', 64)).toBe('fe80::/64');
    expect(ipv6Prefix('64:ff9b::192.0.2.33', 64)).toBe('64:ff9b::/64');
    expect(ipv6Prefix('2001:db8:0:0:1:0:0:1', 64)).toBe('2001:db8::/64');
  });
});
