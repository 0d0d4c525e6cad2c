import * as readline from 'node:readline/promises';
import { ConfigError } from '../../config/errors';
import type { ResolvedConfig } from '../../config/load';
import type { DeleteRegistryInput } from '../../registry/cluster-types';
import type { KkContext } from '../context';
import { runId } from '../run-id';
import { lazy } from '../../runtime/lazy';

export interface DeleteOptions {
  withData: boolean;
  all: boolean;
  yes: boolean;
}

/**
 * `kk delete registry`: removes what kk's install created on every registry host (and the trust entries on every
 * k8s_cluster host). `--with-data` names the data paths and asks first (or takes `--yes`); `--all` also removes the
 * Docker kk installed.
 */
export async function deleteRegistryCommand(ctx: KkContext, config: ResolvedConfig, output: 'text' | 'json', input: DeleteRegistryInput): Promise<number> {
  const [{ localHostNames, startAndFollow }, { updateLocalHosts }] = await Promise.all([
    lazy<typeof import('../follow')>(() => require('../follow')),
    lazy<typeof import('../local-hosts')>(() => require('../local-hosts')),
  ]);
  // This machine's block goes first: it needs no host, and a run that parks (kk resume finishes it) removes it too.
  process.stderr.write(`this machine: ${updateLocalHosts([])}\n`);
  return startAndFollow(
    ctx,
    {
      workflowType: 'deleteRegistryWorkflow',
      workflowId: runId('delete-registry', config.inventoryName, config.hosts),
      args: [input],
      memo: { command: 'delete registry', inventory: config.inventoryName, hosts: input.hosts.map((h) => h.host.name), localHosts: localHostNames(config.hosts) },
      registryType: config.vars.image_registry.type,
      config,
    },
    output,
  );
}

/**
 * The run's input, and with --with-data the person's confirmation, before anything starts: undefined when it was not
 * given (exit 2, nothing changed).
 */
export async function prepareDelete(config: ResolvedConfig, options: DeleteOptions): Promise<DeleteRegistryInput | undefined> {
  const { deleteRegistryInput } = await lazy<typeof import('../../registry/cluster-input')>(() => require('../../registry/cluster-input'));
  const input = deleteRegistryInput(config, options);
  if (options.withData && !(await confirm(input.dataPaths, input.hosts.filter((h) => h.registry).map((h) => h.host.name), options.yes))) return undefined;
  return input;
}

/** --with-data: the paths are named; a person confirms on a terminal, anything else needs --yes. */
async function confirm(paths: string[], hosts: string[], yes: boolean): Promise<boolean> {
  const what = `--with-data deletes ${paths.join(', ')} on ${hosts.join(', ')} (every image in the registry)`;
  if (yes) {
    process.stderr.write(`${what}: confirmed by --yes\n`);
    return true;
  }
  if (!process.stdin.isTTY) throw new ConfigError([`${what}; confirm with --yes (no terminal to ask on); nothing was changed`]);
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${what}. Type "yes" to delete: `);
    if (answer.trim() === 'yes') return true;
    process.stderr.write('not confirmed; nothing was changed\n');
    return false;
  } finally {
    rl.close();
  }
}
