import type { IncomingMessage } from 'node:http';
import { isIP, isIPv4 } from 'node:net';

const UNKNOWN = 'unknown';

/**
 * The client address that per-address limits count, for a request that came through
 * `trustedProxies` proxies (TRUST_PROXY). With 0, the socket's peer. With N, the address the
 * outermost trusted proxy saw: the Nth `X-Forwarded-For` entry from the right (each proxy
 * appends the address it received the request from), or the leftmost one when there are fewer
 * entries. Entries further left are written by the client and never trusted. This is Express'
 * `trust proxy` with a hop count.
 */
export function clientAddressOf(request: IncomingMessage, trustedProxies: number): string {
  const peer = request.socket.remoteAddress ?? UNKNOWN;
  if (trustedProxies <= 0) return addressKey(peer);
  // Node joins repeated X-Forwarded-For headers with ", "; the type allows an array all the same.
  const header = request.headers['x-forwarded-for'];
  const forwardedFor = Array.isArray(header) ? header.join(',') : header;
  return addressKey(forwardedAddress(peer, forwardedFor, trustedProxies));
}

/** The hop `trustedProxies` away from the socket; an entry that is not an IP address stops the walk. */
export function forwardedAddress(
  peer: string,
  forwardedFor: string | undefined,
  trustedProxies: number,
): string {
  if (!forwardedFor) return peer;
  const entries = forwardedFor.split(',');
  let address = peer;
  for (let hop = 1; hop <= trustedProxies && hop <= entries.length; hop += 1) {
    const entry = withoutPort(entries[entries.length - hop].trim());
    // A trusted proxy wrote this entry; garbage means a misconfigured chain, so keep the last good hop.
    if (isIP(entry) === 0) break;
    address = entry;
  }
  return address;
}

/**
 * The key an address is counted under: IPv4-mapped IPv6 (`::ffff:1.2.3.4`) as IPv4, and IPv6
 * by its /64 network, since one subscriber line usually gets a whole /64.
 */
export function addressKey(address: string): string {
  if (address.startsWith('::ffff:') && isIPv4(address.slice(7))) return address.slice(7);
  if (isIP(address) !== 6) return address;
  return `${ipv6Groups(address).slice(0, 4).join(':')}::/64`;
}

/** `1.2.3.4:5678` and `[2001:db8::1]:443` without the port, as some proxies write them. */
function withoutPort(entry: string): string {
  if (entry.startsWith('[')) {
    const end = entry.indexOf(']');
    return end > 0 ? entry.slice(1, end) : entry;
  }
  const colon = entry.indexOf(':');
  if (colon > 0 && colon === entry.lastIndexOf(':') && isIPv4(entry.slice(0, colon))) {
    return entry.slice(0, colon);
  }
  return entry;
}

/** The eight 16-bit groups of a valid IPv6 address, as lowercase hex without leading zeros. */
function ipv6Groups(address: string): string[] {
  const zone = address.indexOf('%');
  const bare = zone >= 0 ? address.slice(0, zone) : address;
  const [head, tail] = bare.split('::') as [string, string | undefined];
  const parse = (part: string | undefined): string[] => {
    if (!part) return [];
    const groups = part.split(':');
    const last = groups[groups.length - 1];
    // An embedded IPv4 tail (::ffff:1.2.3.4, 64:ff9b::1.2.3.4) is two groups.
    if (isIPv4(last)) {
      const [a, b, c, d] = last.split('.').map(Number);
      groups.splice(-1, 1, ((a << 8) | b).toString(16), ((c << 8) | d).toString(16));
    }
    return groups;
  };
  const headGroups = parse(head);
  const tailGroups = parse(tail);
  const zeros =
    tail === undefined ? [] : Array<string>(8 - headGroups.length - tailGroups.length).fill('0');
  return [...headGroups, ...zeros, ...tailGroups].map((group) => parseInt(group, 16).toString(16));
}
