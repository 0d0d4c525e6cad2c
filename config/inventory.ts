import { z } from 'zod';
import { Problems } from './errors';
import { ipAddress, portNumber, secretString } from './types';

/** KubeKey's `kind: Inventory`, as it writes it. Hosts and groups may be left empty (`hosts:` with only comments). */
const connectorSchema = z
  .object({
    type: z.enum(['ssh', 'local']).optional(),
    host: z.string().min(1).optional(),
    port: portNumber.default(22),
    user: z.string().min(1).default('root'),
    password: secretString.optional(),
    private_key: z.string().min(1).optional(),
    private_key_content: z.string().min(1).optional(),
    private_key_passphrase: secretString.optional(),
  })
  .strict();

const hostSchema = z
  .object({
    connector: connectorSchema.prefault({}),
    internal_ipv4: ipAddress.optional(),
    internal_ipv6: ipAddress.optional(),
  })
  .catchall(z.unknown());

const groupSchema = z
  .object({
    hosts: z.array(z.string().min(1)).nullish().transform((v) => v ?? []),
    groups: z.array(z.string().min(1)).nullish().transform((v) => v ?? []),
    vars: z.record(z.string(), z.unknown()).nullish(),
  })
  .strict();

export const inventorySchema = z.object({
  apiVersion: z.literal('kubekey.kubesphere.io/v1', { error: (i) => `${JSON.stringify(i.input)} is not kubekey.kubesphere.io/v1` }),
  kind: z.literal('Inventory', { error: (i) => `${JSON.stringify(i.input)} must be Inventory` }),
  metadata: z.object({ name: z.string().min(1).default('default') }).loose().prefault({}),
  spec: z
    .object({
      hosts: z.record(z.string(), hostSchema.nullish().transform((h) => h ?? hostSchema.parse({}))).nullish().transform((v) => v ?? {}),
      groups: z.record(z.string(), groupSchema.nullish().transform((g) => g ?? { hosts: [], groups: [], vars: undefined })).nullish().transform((v) => v ?? {}),
      vars: z.record(z.string(), z.unknown()).nullish().transform((v) => v ?? {}),
    })
    .prefault({}),
});

export type InventoryDocument = z.output<typeof inventorySchema>;
export type HostDocument = z.output<typeof hostSchema>;

/** The machine kk runs on; always defined, as in KubeKey. */
export const LOCALHOST = 'localhost';

/** Expands nested groups into ordered, de-duplicated host lists; reports undefined hosts and groups and cycles. */
export function expandGroups(doc: InventoryDocument, problems: Problems): Record<string, string[]> {
  const expanded: Record<string, string[]> = {};
  const visiting = new Set<string>();
  const expand = (name: string, trail: string[]): string[] => {
    if (expanded[name]) return expanded[name];
    if (visiting.has(name)) {
      problems.add(`spec.groups.${name}.groups`, `groups form a cycle (${[...trail, name].join(' -> ')})`);
      return [];
    }
    visiting.add(name);
    const group = doc.spec.groups[name]!;
    const hosts: string[] = [];
    const push = (h: string) => hosts.includes(h) || hosts.push(h);
    for (const host of group.hosts) {
      if (host !== LOCALHOST && !(host in doc.spec.hosts)) problems.add(`spec.groups.${name}`, `host "${host}" is not defined in spec.hosts`);
      else push(host);
    }
    for (const child of group.groups) {
      if (!(child in doc.spec.groups)) problems.add(`spec.groups.${name}.groups`, `group "${child}" is not defined in spec.groups`);
      else expand(child, [...trail, name]).forEach(push);
    }
    visiting.delete(name);
    expanded[name] = hosts;
    return hosts;
  };
  for (const name of Object.keys(doc.spec.groups)) expand(name, []);
  return expanded;
}
