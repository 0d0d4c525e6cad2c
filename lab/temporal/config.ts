import { stringify } from 'yaml';

/**
 * The configuration of the lab's Temporal cluster: the same as docker-compose.yml's (PostgreSQL persistence and SQL
 * visibility through the postgres12 plugin, 4 history shards, every service in one process, the UI's codec endpoint),
 * on loopback ports of its own.
 */
export interface ClusterPorts {
  postgres: number;
  frontend: number;
  frontendHttp: number;
  history: number;
  matching: number;
  worker: number;
  membership: [number, number, number, number];
  ui: number;
  codec: number;
}

export function serverConfig(ports: ClusterPorts, password: string, dynamicConfigFile: string): string {
  const sql = (databaseName: string, maxConns: number) => ({
    sql: {
      pluginName: 'postgres12',
      databaseName,
      connectAddr: `127.0.0.1:${ports.postgres}`,
      connectProtocol: 'tcp',
      user: 'temporal',
      password,
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  });
  const rpc = (grpcPort: number, membershipPort: number, extra: Record<string, unknown> = {}) => ({ rpc: { grpcPort, membershipPort, bindOnLocalHost: true, ...extra } });
  const [mFrontend, mHistory, mMatching, mWorker] = ports.membership;
  return stringify({
    log: { stdout: true, level: 'warn' },
    persistence: {
      defaultStore: 'postgres-default',
      visibilityStore: 'postgres-visibility',
      numHistoryShards: 4,
      datastores: { 'postgres-default': sql('temporal', 20), 'postgres-visibility': sql('temporal_visibility', 10) },
    },
    global: { membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' } },
    services: {
      frontend: rpc(ports.frontend, mFrontend, { httpPort: ports.frontendHttp }),
      history: rpc(ports.history, mHistory),
      matching: rpc(ports.matching, mMatching),
      worker: rpc(ports.worker, mWorker),
    },
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: { active: { enabled: true, initialFailoverVersion: 1, rpcName: 'frontend', rpcAddress: `127.0.0.1:${ports.frontend}`, httpAddress: `127.0.0.1:${ports.frontendHttp}` } },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    dynamicConfigClient: { filepath: dynamicConfigFile, pollInterval: '10s' },
  });
}

export function uiConfig(ports: ClusterPorts): string {
  return stringify({
    temporalGrpcAddress: `127.0.0.1:${ports.frontend}`,
    host: '127.0.0.1',
    port: ports.ui,
    enableUi: true,
    defaultNamespace: 'default',
    notifyOnNewVersion: false,
    cors: { cookieInsecure: true, unsafeAllowAllOrigins: false, allowOrigins: [`http://127.0.0.1:${ports.ui}`, `http://localhost:${ports.ui}`] },
    // The browser calls kk's codec endpoint: inputs, results and failures readable, secrets masked.
    codec: { endpoint: `http://127.0.0.1:${ports.codec}`, passAccessToken: false, includeCredentials: false },
  });
}
