import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

/**
 * Where a tenant's endpoint may not point when WEBHOOK_PRIVATE_DESTINATIONS=refuse (production's default): loopback,
 * private, link-local (cloud metadata), shared, multicast and reserved ranges. Otherwise any tenant could make our
 * workers POST into our own network and read the status codes back from the attempts.
 */
const PRIVATE = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 3],
] as const) {
  PRIVATE.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 127],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  PRIVATE.addSubnet(network, prefix, 'ipv6');
}

export class DestinationNotAllowedError extends Error {
  readonly type = 'WebhookDestinationNotAllowed';
}

/** True for an address endpoints may not reach; an IPv4-mapped IPv6 address counts as its IPv4 one. */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return true;
  return PRIVATE.check(address, family === 6 ? 'ipv6' : 'ipv4');
}

/** The hostname of a URL without the brackets of an IPv6 literal. */
export function bareHost(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

/**
 * The address to connect to, resolved once: the request goes to this very address, so a name that resolves to a
 * public address when checked and to a private one when connecting (DNS rebinding) cannot slip through.
 */
export async function resolveDestination(url: URL, allowPrivate: boolean): Promise<{ address: string; family: 4 | 6 }> {
  const host = bareHost(url);
  const literal = isIP(host);
  const addresses =
    literal === 0 ? await lookup(host, { all: true, verbatim: true }) : [{ address: host, family: literal }];
  if (!allowPrivate && addresses.some(({ address }) => isPrivateAddress(address))) {
    throw new DestinationNotAllowedError(`${host} is a private or reserved address`);
  }
  const [first] = addresses;
  if (!first) throw new Error(`${host} has no address`);
  return { address: first.address, family: first.family === 6 ? 6 : 4 };
}
