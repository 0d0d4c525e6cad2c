import * as fs from 'node:fs';
import * as path from 'node:path';
import { stringify } from 'yaml';
import { NOPASSWD_USER } from './node-image';
import type { LabTemporal } from './temporal/cluster';
import { nopasswdUserSecret, type LabNode } from './nodes';
import { LAB_JSON, LAB_KEY, LAB_WORKDIR, PASSWORD_USER, STATE_DIR, VIP } from './paths';

/** The contract tests and the benchmark rely on: `.lab/lab.json`. */
export interface LabFile {
  inventory: string;
  /** The same nodes, logging in as a non-root user by password (sudo with password). */
  inventoryPassword: string;
  /** The same nodes, logging in as a non-root user by password whose sudo asks for none (NOPASSWD). */
  inventoryNopasswd: string;
  workdir: string;
  vip: string;
  nodes: LabNode[];
  set: { 'docker-registry': string; harbor: string };
  s3: { endpoint: string; bucket: string; region: string; accesskey: string; secretkey: string } | null;
  /** The lab's real Temporal cluster (`up --temporal`): point kk at it with TEMPORAL_ADDRESS and KK_CODEC_KEY. */
  temporal?: LabTemporal;
}

export function readLabFile(): LabFile {
  if (!fs.existsSync(LAB_JSON)) throw new Error(`no lab is up (${LAB_JSON} is missing): run npm run lab -- up`);
  return JSON.parse(fs.readFileSync(LAB_JSON, 'utf8')) as LabFile;
}

function inventory(nodes: LabNode[], connector: (n: LabNode) => Record<string, unknown>): string {
  const names = nodes.map((n) => n.name);
  return stringify({
    apiVersion: 'kubekey.kubesphere.io/v1',
    kind: 'Inventory',
    metadata: { name: 'lab' },
    spec: {
      hosts: Object.fromEntries(nodes.map((n) => [n.name, { connector: connector(n), internal_ipv4: n.address }])),
      groups: {
        k8s_cluster: { groups: ['kube_control_plane', 'kube_worker'] },
        kube_control_plane: { hosts: names.slice(0, 1) },
        kube_worker: { hosts: names },
        etcd: { hosts: names.slice(0, 1) },
        image_registry: { hosts: names },
      },
    },
  });
}

export function writeLabFile(nodes: LabNode[], set: LabFile['set'], s3: LabFile['s3'], password: string, temporal?: LabTemporal): LabFile {
  const keyInventory = path.join(STATE_DIR, 'inventory.yaml');
  const passwordInventory = path.join(STATE_DIR, 'inventory-password.yaml');
  fs.writeFileSync(keyInventory, inventory(nodes, (n) => ({ type: 'ssh', host: n.address, port: 22, user: 'root', private_key: LAB_KEY })));
  fs.writeFileSync(passwordInventory, inventory(nodes, (n) => ({ type: 'ssh', host: n.address, port: 22, user: PASSWORD_USER, password })), { mode: 0o600 });
  const nopasswdInventory = path.join(STATE_DIR, 'inventory-nopasswd.yaml');
  const nopasswd = nopasswdUserSecret();
  fs.writeFileSync(nopasswdInventory, inventory(nodes, (n) => ({ type: 'ssh', host: n.address, port: 22, user: NOPASSWD_USER, password: nopasswd })), { mode: 0o600 });
  const lab: LabFile = { inventory: keyInventory, inventoryPassword: passwordInventory, inventoryNopasswd: nopasswdInventory, workdir: LAB_WORKDIR, vip: VIP, nodes, set, s3, ...(temporal ? { temporal } : {}) };
  fs.writeFileSync(LAB_JSON, `${JSON.stringify(lab, null, 2)}\n`);
  return lab;
}
