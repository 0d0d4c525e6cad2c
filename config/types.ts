import { isIP } from 'node:net';
import { z } from 'zod';

/** Small schema building blocks shared by the inventory and the variables. */

/** What a version may contain: it goes into file names, URLs, unit files and image tags, so nothing that ends a line or a word. */
export const VERSION_PATTERN = /^[A-Za-z0-9._+-]+$/;
export const VERSION_RULE = 'must be letters, digits, ".", "_", "+" or "-" only';

/** `--set` gives strings; YAML keeps a number's text (`20.10` stays `20.10`). Versions are strings either way. */
export const versionString = z
  .union([z.string(), z.number()])
  .transform((v) => String(v).trim())
  .pipe(z.string().min(1, 'must not be empty').regex(VERSION_PATTERN, { error: (issue) => `${JSON.stringify(issue.input)} ${VERSION_RULE}` }));

const TRUE = new Set(['true', 'yes', 'y', 'on', '1']);
const FALSE = new Set(['false', 'no', 'n', 'off', '0']);
export const flexibleBoolean = z.preprocess((v) => {
  if (typeof v !== 'string') return v;
  const s = v.trim().toLowerCase();
  return TRUE.has(s) ? true : FALSE.has(s) ? false : v;
}, z.boolean({ error: (issue) => `${JSON.stringify(issue.input)} is not a boolean (use true or false)` }));

export const numberLike = (schema: z.ZodNumber) =>
  z.preprocess((v) => (typeof v === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(v) ? Number(v) : v), schema);

export const portNumber = numberLike(
  z.number({ error: (issue) => `${JSON.stringify(issue.input)} is not a port number` }).int('must be a whole number').min(1, 'must be 1-65535').max(65535, 'must be 1-65535'),
);

export const ipAddress = z.string().refine((v) => isIP(v) !== 0, { error: (issue) => `${JSON.stringify(issue.input)} is not an IP address` });

/** An IP address in the form `ip addr` prints: IPv6 lower-cased and compressed (`FD00:0::100` -> `fd00::100`); IPv4 as is. */
export function canonicalIp(v: string): string {
  return isIP(v) === 6 ? new URL(`http://[${v}]/`).hostname.slice(1, -1) : v;
}

/** An IP address, kept in its canonical form (what hosts print, so a text comparison with their output holds). */
export const canonicalIpAddress = ipAddress.transform(canonicalIp);
/**
 * A host's address as SSH, fstab (an NFS source) and keepalived (unicast_peer) take it: an IP address, or a DNS name of
 * letters, digits, "-" and "_" in dot-separated labels (no whitespace, no leading "-", nothing a file format splits on).
 */
export function isHostAddress(v: string): boolean {
  return isIP(v) !== 0 || /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)*\.?$/.test(v);
}

export const ipv4Address = z.string().refine((v) => isIP(v) === 4, { error: (issue) => `${JSON.stringify(issue.input)} is not an IPv4 address` });

/** KubeKey writes "" for unset; treat it as absent. */
export const emptyAsUnset = <T extends z.ZodType>(schema: T) => z.preprocess((v) => (v === '' || v === null ? undefined : v), schema.optional());

/** Secrets may be typed as numbers in YAML (`password: 123456`); they are strings to us. */
export const secretString = z.union([z.string(), z.number()]).transform((v) => String(v));

export const ARCHES = ['amd64', 'arm64'] as const;
export type Arch = (typeof ARCHES)[number];
