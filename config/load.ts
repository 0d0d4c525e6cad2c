import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isScalar, parseDocument, visit } from 'yaml';
import type { z } from 'zod';
import { ConfigError, Problems } from './errors';
import { checkKeepalivedAddresses } from './ha-addresses';
import { HOST_NAME_PATTERN, type HostTarget } from './hosts';
import { expandGroups, inventorySchema, LOCALHOST, type HostDocument, type InventoryDocument } from './inventory';
import { knownKeyPaths, unknownKeys } from './known-keys';
import { deepMerge, formatPath, getPath, isPlainObject, parsePath, setPath, type VarTree } from './paths';
import { ensureRegistryPassword } from './secrets';
import { parseSetFlags } from './set-parser';
import { checkControlCharacters, checkPaths } from './values';
import { isHostAddress } from './types';
import { VARIABLE_ALIASES, variablesSchema, type Variables } from './variables';

export interface LoadOptions {
  inventoryPath?: string;
  configPath?: string;
  sets?: string[];
  /** `--workdir`; KubeKey's default is ./kubekey. */
  workdir?: string;
  cwd?: string;
  /** Generate (once) and keep the registry admin password when none is set. Off for read-only commands' tests. */
  generateSecrets?: boolean;
}

export interface ResolvedConfig {
  inventoryName: string;
  inventoryPath?: string;
  hosts: HostTarget[];
  /** Group name -> expanded, ordered host names. */
  groups: Record<string, string[]>;
  vars: Variables & { binary_dir: string };
  /** Where the generated admin password lives, when it was generated. */
  generatedPasswordFile?: string;
  warnings: string[];
}

const KNOWN_VARIABLES = knownKeyPaths(variablesSchema);

/** Reads, merges and validates everything the user gave; throws ConfigError listing every problem. */
export function loadConfig(options: LoadOptions): ResolvedConfig {
  const cwd = options.cwd ?? process.cwd();
  const problems = new Problems();
  const warnings: string[] = [];

  const inventory = options.inventoryPath ? readInventory(path.resolve(cwd, options.inventoryPath), problems) : defaultInventory();
  const configSpec = options.configPath ? readConfigSpec(path.resolve(cwd, options.configPath), problems) : {};
  let sets: VarTree = {};
  try {
    sets = parseSetFlags(options.sets ?? []);
  } catch (err) {
    if (err instanceof ConfigError) err.problems.forEach((p) => problems.add('', p));
    else throw err;
  }
  if (!inventory) {
    // Still validate the variables, so one run reports every problem.
    variablesSchema.safeParse({ ...deepMerge(configSpec, sets), work_dir: cwd }, { reportInput: true }).error?.issues.forEach((i) => reportZodIssues([i], '', problems));
    throw new ConfigError(problems.list);
  }

  const layers: [string, VarTree][] = [
    ['spec.vars', inventory.spec.vars],
    ['config', configSpec],
    ['--set', sets],
  ];
  let merged: VarTree = {};
  for (const [label, layer] of layers) merged = deepMerge(merged, applyAliases(layer, label, warnings));
  const workdir = path.resolve(cwd, options.workdir ?? (typeof merged.work_dir === 'string' ? merged.work_dir : 'kubekey'));
  merged.work_dir = workdir;
  if (typeof merged.binary_dir === 'string') merged.binary_dir = path.resolve(cwd, merged.binary_dir);

  for (const { path: p, nearest } of unknownKeys(merged, KNOWN_VARIABLES)) {
    warnings.push(`${p}: unknown variable, ignored${nearest ? ` (did you mean ${nearest}?)` : ''}`);
  }

  const parsed = variablesSchema.safeParse(merged, { reportInput: true });
  if (!parsed.success) reportZodIssues(parsed.error.issues, '', problems);
  checkControlCharacters(merged, [], problems);
  checkPaths(parsed.success ? parsed.data : merged, problems);
  const groups = expandGroups(inventory, problems);
  const hosts = resolveHosts(inventory, groups, cwd, problems);
  if (parsed.success) checkKeepalivedAddresses(parsed.data.image_registry.ha_vip, groups.image_registry ?? [], hosts, (name) => inventory.spec.hosts[name]?.connector.host !== undefined, problems);
  problems.throwIfAny();

  const vars = parsed.data! as ResolvedConfig['vars'];
  vars.binary_dir = vars.binary_dir ?? path.join(workdir, 'kubekey');
  let generatedPasswordFile: string | undefined;
  if (options.generateSecrets !== false && vars.image_registry.auth.password === undefined) {
    const generated = ensureRegistryPassword(workdir);
    vars.image_registry.auth.password = generated.password;
    generatedPasswordFile = generated.file;
  }
  return {
    inventoryName: inventory.metadata.name,
    inventoryPath: options.inventoryPath ? path.resolve(cwd, options.inventoryPath) : undefined,
    hosts,
    groups,
    vars,
    generatedPasswordFile,
    warnings,
  };
}

/** KubeKey's built-in inventory when `-i` is not given: just localhost, no groups. */
function defaultInventory(): InventoryDocument {
  return inventorySchema.parse({ apiVersion: 'kubekey.kubesphere.io/v1', kind: 'Inventory', spec: {} });
}

function readYaml(file: string, what: string, problems: Problems): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    problems.add(what, `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    return undefined;
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length) {
    for (const e of doc.errors) problems.add(what, `${file}: ${e.message.split('\n')[0]}`);
    return undefined;
  }
  // As KubeKey's loader: a plain scalar that YAML would read as a number keeps the text as written, so `20.10` stays
  // a version and `0123456` a password; the schema turns it into a number where a number is meant (ports).
  visit(doc, {
    Scalar(_key, node) {
      if (isScalar(node) && typeof node.value === 'number' && node.source !== undefined) node.value = node.source;
    },
  });
  return doc.toJS();
}

function readInventory(file: string, problems: Problems): InventoryDocument | undefined {
  const raw = readYaml(file, 'inventory', problems);
  if (raw === undefined) return undefined;
  if (!isPlainObject(raw)) {
    problems.add('inventory', `${file} is not a YAML mapping`);
    return undefined;
  }
  if (raw.kind === 'Config') problems.add('inventory', `${file} is a kind: Config file; pass it with -c, and the Inventory with -i`);
  // Host fields go into commands and files on the hosts; spec.vars are checked with the other variables.
  checkControlCharacters(raw.metadata, ['metadata'], problems);
  if (isPlainObject(raw.spec)) {
    checkControlCharacters(raw.spec.hosts, ['spec', 'hosts'], problems, { multiline: (p) => p.endsWith('.connector.private_key_content') });
    checkControlCharacters(raw.spec.groups, ['spec', 'groups'], problems);
  }
  const parsed = inventorySchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) {
    reportZodIssues(parsed.error.issues, '', problems);
    return undefined;
  }
  return parsed.data;
}

function readConfigSpec(file: string, problems: Problems): VarTree {
  const raw = readYaml(file, 'config', problems);
  if (raw === undefined) return {};
  if (!isPlainObject(raw)) {
    problems.add('config', `${file} is not a YAML mapping`);
    return {};
  }
  if (raw.kind !== undefined && raw.kind !== 'Config') problems.add('config.kind', `${JSON.stringify(raw.kind)} must be Config`);
  if (raw.spec === undefined || raw.spec === null) return {};
  if (!isPlainObject(raw.spec)) {
    problems.add('config.spec', 'must be a mapping of variables');
    return {};
  }
  return raw.spec;
}

/** Moves the seed's top-level aliases to their canonical place within one layer (so precedence between layers holds). */
function applyAliases(layer: VarTree, label: string, warnings: string[]): VarTree {
  const out = structuredClone(layer);
  for (const [alias, canonical] of Object.entries(VARIABLE_ALIASES)) {
    if (!(alias in out)) continue;
    const value = out[alias];
    delete out[alias];
    const segments = parsePath(canonical);
    const existing = getPath(out, segments);
    if (existing !== undefined && existing !== value) {
      warnings.push(`${label}: both ${alias} and ${canonical} are set; using ${canonical}=${String(existing)}`);
      continue;
    }
    setPath(out, segments, value);
  }
  return out;
}

function reportZodIssues(issues: readonly z.core.$ZodIssue[], prefix: string, problems: Problems): void {
  for (const issue of issues) {
    const where = [prefix, formatPath(issue.path as (string | number)[])].filter(Boolean).join('.');
    let message = issue.message;
    if (issue.code === 'unrecognized_keys') message = `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    else if (issue.code === 'invalid_type' && message.startsWith('Invalid input')) {
      const input = getIssueInput(issue);
      message = input === undefined ? 'is required' : `must be ${issue.expected}, not ${describeValue(input)}`;
    }
    problems.add(where, message);
  }
}

function getIssueInput(issue: z.core.$ZodIssue): unknown {
  return (issue as { input?: unknown }).input;
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

function resolveHosts(doc: InventoryDocument, groups: Record<string, string[]>, cwd: string, problems: Problems): HostTarget[] {
  const names = new Set(Object.keys(doc.spec.hosts));
  // localhost exists implicitly, but is only a target when something names it.
  if (Object.values(groups).some((hosts) => hosts.includes(LOCALHOST))) names.add(LOCALHOST);
  const targets: HostTarget[] = [];
  for (const name of names) {
    const host: HostDocument = doc.spec.hosts[name] ?? inventorySchema.shape.spec.parse({ hosts: { [name]: null } }).hosts[name]!;
    const c = host.connector;
    const at = `spec.hosts.${name}.connector`;
    if (!HOST_NAME_PATTERN.test(name)) problems.add(`spec.hosts.${name}`, 'host names must be letters, digits, ".", "_" or "-"');
    // A control character is reported already (checkControlCharacters); anything else that is no address is here.
    if (c.host !== undefined && !/[\u0000-\u001f\u007f]/.test(c.host) && !isHostAddress(c.host)) problems.add(`${at}.host`, `${JSON.stringify(c.host)} is not a host name or IP address`);
    const local = c.type === 'local' || (c.type === undefined && name === LOCALHOST);
    const target: HostTarget = {
      name,
      local,
      address: local ? '127.0.0.1' : c.host ?? name,
      port: c.port,
      user: c.user,
      internalIPv4: host.internal_ipv4,
      internalIPv6: host.internal_ipv6,
    };
    if (local) {
      target.inventory = doc.metadata.name;
      if (!HOST_NAME_PATTERN.test(doc.metadata.name)) problems.add('metadata.name', `${JSON.stringify(doc.metadata.name)} names the task queue of local host ${name}: letters, digits, ".", "_" or "-"`);
    }
    if (c.password !== undefined) target.password = c.password;
    if (c.private_key_passphrase !== undefined) target.passphrase = c.private_key_passphrase;
    if (!local) {
      const key = c.private_key_content ?? (c.private_key ? readKeyFile(c.private_key, cwd, `${at}.private_key`, problems) : undefined);
      if (key !== undefined) {
        const parsed = sshUtils().parseKey(key, target.passphrase);
        if (parsed instanceof Error) problems.add(c.private_key_content ? `${at}.private_key_content` : `${at}.private_key`, `not a usable private key: ${parsed.message}`);
        else target.privateKey = key;
      } else if (target.password === undefined) {
        const fallback = defaultUserKey();
        if (fallback) target.privateKey = fallback;
        else problems.add(at, 'no password or private_key, and no key in ~/.ssh (id_ed25519, id_ecdsa, id_rsa) to fall back on');
      }
    }
    targets.push(target);
  }
  return targets;
}

function readKeyFile(file: string, cwd: string, where: string, problems: Problems): string | undefined {
  const resolved = file.startsWith('~/') ? path.join(os.homedir(), file.slice(2)) : path.resolve(cwd, file);
  try {
    return fs.readFileSync(resolved, 'utf8');
  } catch (err) {
    problems.add(where, `cannot read ${resolved}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    return undefined;
  }
}

/** ssh2 (its key parser), loaded only when a key is checked: `kk config` on password or local hosts starts without it. */
function sshUtils(): typeof import('ssh2').utils {
  return (require('ssh2') as typeof import('ssh2')).utils;
}

/** KubeKey tries the user's own keys when the inventory gives neither password nor key. */
function defaultUserKey(): string | undefined {
  for (const name of ['id_ed25519', 'id_ecdsa', 'id_rsa']) {
    const file = path.join(os.homedir(), '.ssh', name);
    if (!fs.existsSync(file)) continue;
    const text = fs.readFileSync(file, 'utf8');
    if (!(sshUtils().parseKey(text) instanceof Error)) return text;
  }
  return undefined;
}

/** The hosts of a group, in inventory order. */
export function groupHosts(config: ResolvedConfig, group: string): HostTarget[] {
  return (config.groups[group] ?? []).map((name) => config.hosts.find((h) => h.name === name)!).filter(Boolean);
}
