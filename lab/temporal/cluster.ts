import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { CACHE_DIR, LAB_NAME, PROJECT, STATE_DIR } from '../paths';
import { log, run, sleep, succeeds } from '../process';
import { TEMPORAL_SERVER_VERSION, TEMPORAL_UI_VERSION, temporalBinaries, type TemporalBinaries } from './build';
import { serverConfig, uiConfig, type ClusterPorts } from './config';

/**
 * A real Temporal cluster for the lab, as an operator runs one: PostgreSQL (Debian's, a private instance of its own
 * with its own data dir and port, run as the `postgres` user), the `temporal` and `temporal_visibility` databases
 * made by the SQL tool's schema setup (postgres12 plugin), the server with every service in one process, the web UI
 * server, and kk's codec endpoint for that UI (`kk server codec`, with the lab's codec key). Processes run in the
 * background; their ports and pids are in `.lab/temporal/cluster.json`; `lab down` stops them.
 */
export interface LabTemporal {
  address: string;
  namespace: string;
  ui: string;
  codec: string;
  /** base64 of the 32-byte key every kk CLI and worker of the lab's cluster uses (KK_CODEC_KEY), 0600. */
  codecKeyFile: string;
  versions: { server: string; ui: string; postgresql: string };
}

type Ports = ClusterPorts;

interface ClusterState {
  ports: Ports;
  pids: { server?: number; ui?: number; codec?: number };
}

const PG_BIN = '/usr/lib/postgresql/15/bin';
const NAMESPACE = 'default';
/** Run data: PostgreSQL's files must belong to `postgres`, so they live in the machine cache, one dir per lab. */
const DATA_DIR = path.join(CACHE_DIR, 'temporal-cluster', LAB_NAME);
const PG_DATA = path.join(DATA_DIR, 'pgdata');
const PG_SOCKET = path.join(DATA_DIR, 'pgsocket');
const DIR = path.join(STATE_DIR, 'temporal');
const STATE = path.join(DIR, 'cluster.json');
const PG_PASSWORD = path.join(DIR, 'postgres-password');
const KK_WORKDIR = path.join(DIR, 'kk');
export const LAB_CODEC_KEY = path.join(DIR, 'codec.key');

const readState = (): ClusterState | undefined => (fs.existsSync(STATE) ? (JSON.parse(fs.readFileSync(STATE, 'utf8')) as ClusterState) : undefined);
const writeState = (s: ClusterState) => fs.writeFileSync(STATE, `${JSON.stringify(s, null, 2)}\n`);

function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

async function waitPort(what: string, port: number, pid: number | undefined, logFile: string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await answers(port))) {
    if (pid !== undefined && !alive(pid)) throw new Error(`${what} exited; see ${logFile}:\n${tail(logFile)}`);
    if (Date.now() > deadline) throw new Error(`${what} did not answer on port ${port}; see ${logFile}:\n${tail(logFile)}`);
    await sleep(300);
  }
}

const tail = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').slice(-15).join('\n') : '');

/**
 * Ports chosen together (all bound at once, then released), so no two are the same; below 32768, because the server
 * keeps its membership ports in a smallint column (and the kernel hands out ephemeral ports above that).
 */
async function freePorts(n: number): Promise<number[]> {
  const servers: net.Server[] = [];
  const bind = (port: number) =>
    new Promise<net.Server | undefined>((resolve) => {
      const s = net.createServer();
      s.once('error', () => resolve(undefined));
      s.listen(port, '127.0.0.1', () => resolve(s));
    });
  for (let tries = 0; servers.length < n; tries++) {
    if (tries > 1000) throw new Error('no free ports between 20000 and 32000');
    const s = await bind(20_000 + Math.floor(Math.random() * 12_000));
    if (s) servers.push(s);
  }
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

function secret(file: string, make: () => string): string {
  if (!fs.existsSync(file)) fs.writeFileSync(file, `${make()}\n`, { mode: 0o600 });
  return fs.readFileSync(file, 'utf8').trim();
}

function background(file: string, args: string[], logFile: string, env: NodeJS.ProcessEnv = process.env): number {
  const out = fs.openSync(logFile, 'a', 0o600);
  const child = spawn(file, args, { detached: true, stdio: ['ignore', out, out], env });
  fs.closeSync(out);
  child.unref();
  return child.pid!;
}

const asPostgres = (file: string, args: string[], input?: string) => run('runuser', ['-u', 'postgres', '--', file, ...args], { input, cwd: '/' });

async function ensurePostgres(ports: Ports): Promise<void> {
  if (!fs.existsSync(path.join(PG_BIN, 'initdb'))) {
    log('installing PostgreSQL (apt-get install postgresql)');
    await run('apt-get', ['install', '-y', '--no-install-recommends', 'postgresql'], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  }
  fs.mkdirSync(DATA_DIR, { recursive: true, mode: 0o755 });
  for (const d of [PG_DATA, PG_SOCKET]) {
    fs.mkdirSync(d, { recursive: true, mode: 0o700 });
    await run('chown', ['postgres:postgres', d]);
  }
  if (!fs.existsSync(path.join(PG_DATA, 'PG_VERSION'))) {
    await asPostgres(path.join(PG_BIN, 'initdb'), ['-D', PG_DATA, '-U', 'postgres', '--auth-local=peer', '--auth-host=scram-sha-256', '-E', 'UTF8']);
  }
  const pgArgs = ['-D', PG_DATA];
  if (!(await succeeds('runuser', ['-u', 'postgres', '--', path.join(PG_BIN, 'pg_ctl'), 'status', ...pgArgs], { cwd: '/' }))) {
    const pgLog = path.join(DATA_DIR, 'postgresql.log');
    fs.closeSync(fs.openSync(pgLog, 'a', 0o600));
    await run('chown', ['postgres:postgres', pgLog]);
    const options = `-c listen_addresses=127.0.0.1 -p ${ports.postgres} -k ${PG_SOCKET} -c max_connections=200`;
    await asPostgres(path.join(PG_BIN, 'pg_ctl'), ['start', '-w', '-t', '60', ...pgArgs, '-l', pgLog, '-o', options]);
  }
  // The role Temporal logs in as; its password on psql's stdin, never on a command line.
  const password = secret(PG_PASSWORD, () => randomBytes(18).toString('hex'));
  await asPostgres(path.join(PG_BIN, 'psql'), ['-h', PG_SOCKET, '-p', String(ports.postgres), '-v', 'ON_ERROR_STOP=1', '-q', '-d', 'postgres'], `
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'temporal') THEN CREATE ROLE temporal LOGIN CREATEDB; END IF;
END $$;
ALTER ROLE temporal PASSWORD '${password}';
`);
}

/** Both databases, made and migrated by the SQL tool (idempotent: create is skipped for an existing one, update goes to the latest). */
async function ensureSchemas(bins: TemporalBinaries, ports: Ports): Promise<void> {
  const env = { ...process.env, SQL_PASSWORD: fs.readFileSync(PG_PASSWORD, 'utf8').trim() };
  const base = ['--plugin', 'postgres12', '--ep', '127.0.0.1', '-p', String(ports.postgres), '-u', 'temporal'];
  for (const [db, schema] of [['temporal', 'postgresql/v12/temporal'], ['temporal_visibility', 'postgresql/v12/visibility']] as const) {
    const exists = await succeeds('runuser', ['-u', 'postgres', '--', path.join(PG_BIN, 'psql'), '-h', PG_SOCKET, '-p', String(ports.postgres), '-d', db, '-c', 'select 1'], { cwd: '/' });
    if (!exists) {
      await run(bins.sqlTool, [...base, '--db', db, 'create-database'], { env });
      await run(bins.sqlTool, [...base, '--db', db, 'setup-schema', '-v', '0.0'], { env });
    }
    await run(bins.sqlTool, [...base, '--db', db, 'update-schema', '--schema-name', schema], { env });
  }
}

function writeConfigs(ports: Ports): { serverRoot: string; uiRoot: string } {
  const serverRoot = path.join(DIR, 'server');
  const uiRoot = path.join(DIR, 'ui');
  for (const d of [path.join(serverRoot, 'config'), path.join(uiRoot, 'config')]) fs.mkdirSync(d, { recursive: true, mode: 0o700 });
  // The server's config holds the database password: 0600.
  fs.writeFileSync(path.join(serverRoot, 'config', 'development.yaml'), serverConfig(ports, fs.readFileSync(PG_PASSWORD, 'utf8').trim(), path.join(serverRoot, 'config', 'dynamicconfig.yaml')), { mode: 0o600 });
  fs.writeFileSync(path.join(serverRoot, 'config', 'dynamicconfig.yaml'), '{}\n', { mode: 0o600 });
  fs.writeFileSync(path.join(uiRoot, 'config', 'development.yaml'), uiConfig(ports), { mode: 0o600 });
  return { serverRoot, uiRoot };
}

const SERVER_LOG = path.join(DIR, 'server.log');

/** Starts the server process (every service in one) unless it runs, and waits for its frontend. */
export async function startTemporalServer(): Promise<void> {
  const state = readState();
  if (!state) throw new Error('the lab has no Temporal cluster: npm run lab -- up --temporal');
  if (alive(state.pids.server) && (await answers(state.ports.frontend))) return;
  const bins = await temporalBinaries();
  const pid = background(bins.server, ['--root', path.join(DIR, 'server'), '--config', 'config', '--env', 'development', '--allow-no-auth', 'start'], SERVER_LOG);
  writeState({ ...state, pids: { ...state.pids, server: pid } });
  await waitPort('the Temporal server', state.ports.frontend, pid, SERVER_LOG);
  await waitServing(state.ports.frontend, pid);
}

/** The frontend answers the port before every service has joined: wait until it serves a namespace read. */
async function waitServing(port: number, pid: number): Promise<void> {
  const { Connection } = await import('@temporalio/client');
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (!alive(pid)) throw new Error(`the Temporal server exited; see ${SERVER_LOG}:\n${tail(SERVER_LOG)}`);
    const ok = await Connection.connect({ address: `127.0.0.1:${port}`, connectTimeout: 2000 })
      .then(async (c) => {
        try {
          await c.workflowService.describeNamespace({ namespace: 'temporal-system' });
          return true;
        } finally {
          await c.close();
        }
      })
      .catch(() => false);
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`the Temporal server did not serve within 90 s; see ${SERVER_LOG}:\n${tail(SERVER_LOG)}`);
    await sleep(500);
  }
}

/** Kills the server process (SIGKILL, as a crash), for the tests that restart it mid-run. */
export async function killTemporalServer(): Promise<void> {
  const state = readState();
  const pid = state?.pids.server;
  if (!alive(pid)) return;
  process.kill(pid!, 'SIGKILL');
  while (alive(pid)) await sleep(100);
}

export function temporalClusterConfigured(): boolean {
  return fs.existsSync(STATE);
}

export async function ensureTemporalCluster(): Promise<LabTemporal> {
  const started = Date.now();
  fs.mkdirSync(DIR, { recursive: true, mode: 0o700 });
  const bins = await temporalBinaries();
  let state = readState();
  if (!state) {
    const p = await freePorts(12);
    state = {
      ports: { postgres: p[0]!, frontend: p[1]!, frontendHttp: p[2]!, history: p[3]!, matching: p[4]!, worker: p[5]!, membership: [p[6]!, p[7]!, p[8]!, p[9]!], ui: p[10]!, codec: p[11]! },
      pids: {},
    };
    writeState(state);
  }
  const { ports } = state;
  await ensurePostgres(ports);
  await ensureSchemas(bins, ports);
  const { uiRoot } = writeConfigs(ports);
  await startTemporalServer();
  state = readState()!;
  if (!(alive(state.pids.ui) && (await answers(ports.ui)))) {
    const logFile = path.join(DIR, 'ui.log');
    const pid = background(bins.ui, ['--root', uiRoot, '--config', 'config', '--env', 'development', 'start'], logFile);
    state.pids.ui = pid;
    writeState(state);
    await waitPort('the Temporal UI server', ports.ui, pid, logFile);
  }
  // The lab's codec key, made once; kk's codec endpoint for the UI reads it from KK_CODEC_KEY.
  const key = secret(LAB_CODEC_KEY, () => randomBytes(32).toString('base64'));
  if (!(alive(state.pids.codec) && (await answers(ports.codec)))) {
    const logFile = path.join(DIR, 'codec.log');
    const args = [path.join(PROJECT, 'bin', 'kk.js'), 'server', 'codec', '--workdir', KK_WORKDIR, '--ui-origin', `http://127.0.0.1:${ports.ui}`, '--port', String(ports.codec)];
    const pid = background(process.execPath, args, logFile, { ...process.env, KK_CODEC_KEY: key, TEMPORAL_ADDRESS: '' });
    state.pids.codec = pid;
    writeState(state);
    await waitPort("kk's codec endpoint", ports.codec, pid, logFile);
  }
  const postgresql = (await run(path.join(PG_BIN, 'postgres'), ['--version'])).trim().replace(/^postgres \(PostgreSQL\) /, '');
  const lab: LabTemporal = {
    address: `127.0.0.1:${ports.frontend}`,
    namespace: NAMESPACE,
    ui: `http://127.0.0.1:${ports.ui}`,
    codec: `http://127.0.0.1:${ports.codec}`,
    codecKeyFile: LAB_CODEC_KEY,
    versions: { server: TEMPORAL_SERVER_VERSION, ui: TEMPORAL_UI_VERSION, postgresql },
  };
  log(
    `temporal: server ${TEMPORAL_SERVER_VERSION} at ${lab.address} (namespace ${NAMESPACE}), UI ${TEMPORAL_UI_VERSION} at ${lab.ui} (codec ${lab.codec}), ` +
      `PostgreSQL ${postgresql} on port ${ports.postgres}, in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  return lab;
}

/** Stops every process of the lab's cluster and removes its data: the next `up --temporal` starts from empty databases. */
export async function removeTemporalCluster(): Promise<void> {
  const state = readState();
  if (!state) return;
  for (const pid of [state.pids.codec, state.pids.ui, state.pids.server]) {
    if (!alive(pid)) continue;
    process.kill(pid!, 'SIGTERM');
    for (let i = 0; i < 50 && alive(pid); i++) await sleep(100);
    if (alive(pid)) process.kill(pid!, 'SIGKILL');
  }
  if (fs.existsSync(path.join(PG_DATA, 'PG_VERSION'))) await asPostgres(path.join(PG_BIN, 'pg_ctl'), ['stop', '-D', PG_DATA, '-m', 'fast']).catch(() => undefined);
  fs.rmSync(DATA_DIR, { recursive: true, force: true });
  fs.rmSync(DIR, { recursive: true, force: true });
}
