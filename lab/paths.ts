import * as path from 'node:path';

/** Where the lab keeps its state (per clone) and its build caches (per machine, kept by `down`). */
export const PROJECT = path.resolve(__dirname, '..');
export const STATE_DIR = path.join(PROJECT, '.lab');
export const CACHE_DIR = process.env.KK_LAB_CACHE ?? '/var/cache/kk-lab';
export const RUN_DIR = '/run/kk-lab';

export const LAB_JSON = path.join(STATE_DIR, 'lab.json');
export const LAB_WORKDIR = path.join(STATE_DIR, 'work');
export const LAB_BINARY_DIR = path.join(LAB_WORKDIR, 'kubekey');
export const LAB_KEY = path.join(STATE_DIR, 'id_ed25519');

/**
 * Several labs can share the machine's lab Docker engine (one per clone or worktree, e.g. to test two changes at once):
 * each has its own name, used for its containers, network and label, and its own subnet.
 */
export const LAB_NAME = process.env.KK_LAB_NAME ?? 'kk-lab';
if (!/^[a-z][a-z0-9-]{0,30}$/.test(LAB_NAME)) throw new Error(`KK_LAB_NAME "${LAB_NAME}": lower-case letters, digits and dashes`);
/** Every container of this lab carries it; `down` removes exactly those. */
export const LAB_LABEL = `kk-lab=${LAB_NAME}`;

/** The lab network: a dedicated bridge subnet; nodes at .11, .12, …; the VIP is kept free at .100. */
export const NETWORK = LAB_NAME;
export const SUBNET_PREFIX = process.env.KK_LAB_SUBNET_PREFIX ?? '172.30.99';
if (!/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.test(SUBNET_PREFIX)) throw new Error(`KK_LAB_SUBNET_PREFIX "${SUBNET_PREFIX}": three octets, e.g. 172.30.98`);
export const SUBNET = `${SUBNET_PREFIX}.0/24`;
export const GATEWAY = `${SUBNET_PREFIX}.1`;
export const VIP = `${SUBNET_PREFIX}.100`;
export const S3_ADDRESS = `${SUBNET_PREFIX}.200`;
export const nodeName = (i: number) => `node${i}`;
export const nodeAddress = (i: number) => `${SUBNET_PREFIX}.${10 + i}`;
export const containerName = (node: string) => `${LAB_NAME}-${node}`;

/** The non-root user of the password inventory variant (sudo with password). */
export const PASSWORD_USER = 'ops';
