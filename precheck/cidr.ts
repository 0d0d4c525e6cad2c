/** CIDR arithmetic without Node built-ins (workflow code uses it). */

function ipv4ToBigInt(ip: string): bigint | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return undefined;
  return parts.reduce((acc, p) => (acc << 8n) + BigInt(Number(p)), 0n);
}

function ipv6ToBigInt(ip: string): bigint | undefined {
  if (!ip.includes(':')) return undefined;
  const [head = '', tail] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined ? (tail ? tail.split(':') : []) : [];
  const groups = tail !== undefined ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  if (groups.length !== 8 || groups.some((g) => !/^[0-9a-f]{1,4}$/i.test(g))) return undefined;
  return groups.reduce((acc, g) => (acc << 16n) + BigInt(parseInt(g, 16)), 0n);
}

export function parseIp(ip: string): { value: bigint; bits: 32 | 128 } | undefined {
  const v4 = ipv4ToBigInt(ip);
  if (v4 !== undefined) return { value: v4, bits: 32 };
  const v6 = ipv6ToBigInt(ip);
  return v6 !== undefined ? { value: v6, bits: 128 } : undefined;
}

/** Whether `ip` lies inside `cidr` (`172.30.99.11/24`: the interface's network). */
export function cidrContains(cidr: string, ip: string): boolean {
  const [base, lenText] = cidr.split('/');
  const net = parseIp(base ?? '');
  const addr = parseIp(ip);
  const len = Number(lenText);
  if (!net || !addr || net.bits !== addr.bits || !Number.isInteger(len)) return false;
  const shift = BigInt(net.bits - len);
  return net.value >> shift === addr.value >> shift;
}

/** The interface (and its CIDR) whose subnet holds `ip`, if any. */
export function interfaceFor(interfaces: readonly { name: string; cidrs: string[] }[], ip: string): { name: string; cidr: string } | undefined {
  for (const iface of interfaces) {
    if (iface.name === 'lo') continue;
    const cidr = iface.cidrs.find((c) => !c.endsWith('/32') && !c.endsWith('/128') && cidrContains(c, ip));
    if (cidr) return { name: iface.name, cidr };
  }
  return undefined;
}
