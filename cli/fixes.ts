import type { KkContext } from './context';
import type { ResolvedConfig } from '../config/load';
import { ConfigError } from '../config/errors';
import type { RunMemo } from './follow';
import { parkedHosts } from './parked';
import { runRef } from './run-children';
import { lazy } from '../runtime/lazy';
import type { HostFix } from '../workflows/messages';

export interface ResumeOptions {
  /** The configuration re-read from -i/-c/--set: corrected connection data and values for the parked hosts. */
  config?: ResolvedConfig;
  /** `--abort`: end the parked hosts' work; the run ends with what was done and what was not. */
  abort?: boolean;
}

/**
 * Sends each parked host of the run its fix through the `fixHost` update: abort, the node (init) or host (other
 * commands) of the re-read configuration, or the same step again. The updates are carried out once a worker runs;
 * while one is in flight its host does not count as parked. A refused fix (it would change what is installed) is
 * printed and makes the command exit 2.
 */
export async function sendFixes(ctx: KkContext, runId: string, memo: RunMemo, options: ResumeOptions): Promise<{ count: number; inFlight: Set<string>; refused: () => boolean }> {
  const { parked } = await parkedHosts(ctx.client, await runRef(ctx.client, runId), memo.hosts, new Set(), memo.precheckHosts);
  const inFlight = new Set<string>();
  let refused = false;
  if (!parked.length) return { count: 0, inFlight, refused: () => refused };
  const fixes = await fixesFor(memo, parked, options);
  const { fixHostUpdate } = await lazy<typeof import('../workflows/messages')>(() => require('../workflows/messages'));
  for (const [host, fix] of fixes) {
    inFlight.add(host);
    ctx.client.workflow
      .getHandle(parked.find((p) => p.host === host)!.workflowId)
      .executeUpdate(fixHostUpdate, { args: [fix] })
      .then(
        (outcome) => process.stderr.write(`${outcome}\n`),
        (err: Error) => {
          refused = true;
          process.stderr.write(`error: ${host}: ${(err.cause as Error | undefined)?.message ?? err.message}\n`);
        },
      )
      .finally(() => inFlight.delete(host));
  }
  return { count: fixes.size, inFlight, refused: () => refused };
}

async function fixesFor(memo: RunMemo, parked: { host: string; workflowId: string }[], options: ResumeOptions): Promise<Map<string, HostFix>> {
  const out = new Map<string, HostFix>();
  let nodes: Awaited<ReturnType<typeof import('../registry/input').initRegistryInput>>['nodes'] | undefined;
  if (options.config && memo.command === 'init registry') {
    const { initRegistryInput } = await lazy<typeof import('../registry/input')>(() => require('../registry/input'));
    nodes = (await initRegistryInput(options.config)).nodes;
  }
  for (const { host, workflowId } of parked) {
    const probing = workflowId.includes('/precheck/node/');
    if (options.abort) out.set(host, { abort: true });
    else if (nodes && !probing) {
      const node = nodes.find((n) => n.host.name === host);
      if (!node) throw new ConfigError([`${host}: parked in this run, but the configuration no longer lists it in image_registry`]);
      out.set(host, { node });
    } else if (options.config) {
      const target = options.config.hosts.find((h) => h.name === host);
      if (!target) throw new ConfigError([`${host}: parked in this run, but the inventory no longer has it`]);
      out.set(host, { host: target });
    } else out.set(host, {});
  }
  return out;
}
