import * as fs from 'node:fs';
import { Client, Connection, type TLSConfig } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { ensureClusterReady } from './cluster';
import { kkDataConverter } from './data-converter';
import { ensureDevServer } from './dev-server';
import { attachLease } from './leases';

/** Which Temporal kk talks to: the work dir's embedded dev server, or the cluster TEMPORAL_ADDRESS names. */
export interface TemporalEndpoint {
  address: string;
  namespace: string;
  tls?: TLSConfig;
  apiKey?: string;
  /** No TEMPORAL_ADDRESS: kk runs its own dev server and an in-process worker. */
  embedded: boolean;
  uiUrl?: string;
  /** The embedded server's codec endpoint, for the UI. */
  codecUrl?: string;
}

function readTls(): TLSConfig | undefined {
  const { TEMPORAL_TLS_CERT, TEMPORAL_TLS_KEY, TEMPORAL_TLS_CA, TEMPORAL_TLS_SERVER_NAME, TEMPORAL_TLS } = process.env;
  if (!TEMPORAL_TLS_CERT && !TEMPORAL_TLS_CA && TEMPORAL_TLS !== 'true' && !TEMPORAL_TLS_SERVER_NAME) return undefined;
  if (Boolean(TEMPORAL_TLS_CERT) !== Boolean(TEMPORAL_TLS_KEY)) throw new Error('TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together');
  return {
    serverNameOverride: TEMPORAL_TLS_SERVER_NAME,
    serverRootCACertificate: TEMPORAL_TLS_CA ? fs.readFileSync(TEMPORAL_TLS_CA) : undefined,
    clientCertPair: TEMPORAL_TLS_CERT ? { crt: fs.readFileSync(TEMPORAL_TLS_CERT), key: fs.readFileSync(TEMPORAL_TLS_KEY!) } : undefined,
  };
}

export async function resolveEndpoint(workdir: string): Promise<TemporalEndpoint> {
  const address = process.env.TEMPORAL_ADDRESS;
  const namespace = process.env.TEMPORAL_NAMESPACE ?? 'default';
  if (address) {
    const apiKey = process.env.TEMPORAL_API_KEY;
    return { address, namespace, tls: readTls() ?? (apiKey ? {} : undefined), apiKey, embedded: false, uiUrl: process.env.TEMPORAL_UI_URL };
  }
  // Attached before the server is looked up: its supervisor does not stop for idleness while this command runs.
  attachLease(workdir);
  const server = await ensureDevServer(workdir);
  return { address: server.address, namespace: 'default', embedded: true, uiUrl: server.uiUrl, codecUrl: server.codecUrl };
}

export async function connectClient(endpoint: TemporalEndpoint, codecKey: Buffer): Promise<Client> {
  const connection = await Connection.connect({ address: endpoint.address, tls: endpoint.tls, apiKey: endpoint.apiKey });
  if (!endpoint.embedded) await ensureClusterReady(endpoint, connection);
  return new Client({ connection, namespace: endpoint.namespace, dataConverter: kkDataConverter(codecKey) });
}

export async function connectWorker(endpoint: TemporalEndpoint): Promise<NativeConnection> {
  if (!endpoint.embedded) await ensureClusterReady(endpoint);
  return NativeConnection.connect({ address: endpoint.address, tls: endpoint.tls, apiKey: endpoint.apiKey });
}
