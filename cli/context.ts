import * as os from 'node:os';
import * as path from 'node:path';
import type { Client } from '@temporalio/client';
import type { TemporalEndpoint } from '../runtime/temporal';
import { lazy } from '../runtime/lazy';

/** What a command that talks to Temporal needs: the endpoint, a client with kk's codec, and (embedded) a worker. */
export interface KkContext {
  workdir: string;
  endpoint: TemporalEndpoint;
  client: Client;
  codecKey: Buffer;
  logFile: string;
  /**
   * Embedded default only: runs an in-process worker on one run's task queue until `until` settles. It is started
   * for that run: it may act on the run's own local hosts and no others.
   */
  runEmbeddedWorker(until: Promise<unknown>, serve: { taskQueue: string; localHosts: readonly string[] }): Promise<void>;
  close(): Promise<void>;
}

export function resolveWorkdir(flag: string | undefined): string {
  return path.resolve(flag ?? process.env.KK_WORKDIR ?? 'kubekey');
}

export async function openContext(workdir: string): Promise<KkContext> {
  // Loaded here, not at the top: the Temporal SDK (client, worker, webpack) and ssh2 take a second to load, and
  // `kk config` or `kk --help` never need them.
  const [{ loadCodecKey }, { connectClient, connectWorker, resolveEndpoint }, { installLogging }] = await Promise.all([
    lazy<typeof import('../runtime/codec')>(() => require('../runtime/codec')),
    lazy<typeof import('../runtime/temporal')>(() => require('../runtime/temporal')),
    lazy<typeof import('./logging')>(() => require('./logging')),
  ]);
  const logFile = installLogging(workdir);
  const endpoint = await resolveEndpoint(workdir);
  const codecKey = loadCodecKey(workdir);
  const client = await connectClient(endpoint, codecKey);
  return {
    workdir,
    endpoint,
    client,
    codecKey,
    logFile,
    async runEmbeddedWorker(until, serve) {
      const connection = await connectWorker(endpoint);
      try {
        const { createKkWorker, runWorker } = await lazy<typeof import('../worker/worker')>(() => require('../worker/worker'));
        const w = await createKkWorker({
          connection,
          namespace: endpoint.namespace,
          workdir,
          codecKey,
          taskQueue: serve.taskQueue,
          localHosts: serve.localHosts,
          identity: `kk-cli-${process.pid}@${os.hostname()}`,
        });
        await runWorker(w, until.catch(() => undefined));
      } finally {
        await connection.close();
      }
    },
    async close() {
      await client.connection.close();
    },
  };
}

/** Where the run is shown in the Temporal UI. */
export function uiLink(endpoint: TemporalEndpoint, workflowId: string): string | undefined {
  if (!endpoint.uiUrl) return undefined;
  return `${endpoint.uiUrl}/namespaces/${encodeURIComponent(endpoint.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}
