import { execFile } from 'node:child_process';
import { ApplicationFailure } from '@temporalio/common';
import { promisify } from 'node:util';
import { parseDocument } from 'yaml';
import { describeHost } from '../../config/hosts';
import { HarborApi } from '../../registry/harbor/api';
import { HARBOR_DIR, HARBOR_PROJECT, HARBOR_UNIT, harborLayout } from '../../registry/harbor/layout';
import { applyMeshPlan, isKkOwned, meshRegistryName, PeerNotReadyError, PeerRefusedError, planMesh, readMeshState, type MeshPeer } from '../../registry/harbor/mesh';
import type { MeshPeerRef } from '../../registry/harbor/leavers';
import { renderHarborYml } from '../../registry/harbor/render';
import { composeUnit } from '../../registry/render';
import type { HarborNodeInput } from '../../registry/types';
import { curlTransport } from '../harbor/transport';
import { hostFailure } from '../ssh/errors';
import { sha256File } from '../ssh/file-hash';
import { sh } from '../ssh/quote';
import type { HostSession } from '../ssh/session';
import { refuseForeignUnit } from './registry';
import { asRoot, clearPending, markPending, mustRun, putFile, refuseForeignListeners, restartPending } from './remote';
import { replicationRobotSpec, robotHasPermissions } from '../../registry/harbor/api';

const execFileAsync = promisify(execFile);
const SERVICE = 'harbor';
export const REPLICATION_ROBOT = 'kk-replicator';
/** How long a node waits for a peer's Harbor to answer before writing its endpoint. */
const PEER_WAIT_MS = 300_000;

/** This node's Harbor API, reached with curl on the node itself (works where only SSH reaches the hosts). */
export function nodeApi(session: HostSession, input: HarborNodeInput, login: { username: string; password: string }, signal?: AbortSignal): HarborApi {
  const layout = harborLayout(input.versions.registry);
  const scheme = input.plainHttp ? 'http' : 'https';
  const port = input.plainHttp ? input.harbor.httpPort : input.harbor.httpsPort;
  return new HarborApi(curlTransport({ session, baseUrl: `${scheme}://127.0.0.1:${port}`, caPath: `${layout.ssl}/ca.crt`, sudo: true, signal, ...login }));
}

const admin = (input: HarborNodeInput) => ({ username: 'admin', password: input.harbor.adminPassword });

/**
 * Harbor on one node, the way Harbor documents it: the offline installer uploaded (resumable, hash-verified) and
 * extracted under /opt/harbor/<version>/ without its harbor.yml.tmpl, then removed: only the extracted tree stays, with
 * the installer's sha256 in `.kk-extracted`, so a re-run with the same installer uploads nothing and another installer
 * is extracted again. kk renders harbor.yml from the template on the worker, so Harbor's default passwords never stay
 * on the host. Certificates where harbor.yml points, then `install.sh` once. Later runs first pay a restart an
 * interrupted attempt owes (`prepare` and a restart, so Harbor serves the CA and ports its files name) and start a
 * stopped harbor.service (and wait for its health) before anything talks to Harbor's API, re-apply a changed
 * harbor.yml with `prepare` and one restart; a changed admin password goes through Harbor's API first (Harbor reads harbor_admin_password on its
 * first start only). harbor.service starts and stops the compose project at boot.
 */
export async function deployHarbor(session: HostSession, input: HarborNodeInput, installer: string, onProgress: (o: number, t: number) => void, signal: AbortSignal): Promise<Record<string, string>> {
  const layout = harborLayout(input.versions.registry);
  const steps: Record<string, string> = {};
  await refuseForeignUnit(session, HARBOR_UNIT);
  const sha256 = await sha256File(installer);
  const stamp = (await asRoot(session, sh`cat ${layout.extractedStamp} 2>/dev/null || true`, { timeoutMs: 30_000 })).stdout.trim();
  const tree = (await asRoot(session, sh`test -x ${`${layout.installerDir}/install.sh`} && test -x ${`${layout.installerDir}/prepare`}`, { timeoutMs: 30_000 })).code === 0;
  if (stamp === sha256 && tree) {
    // Extracted from exactly this installer before; a tarball an interrupted run (or an older kk) left goes.
    await mustRun(session, sh`rm -f -- ${layout.installerTarball}`, `removing ${layout.installerTarball}`);
    steps.upload = 'skipped';
    steps.extract = 'skipped';
  } else {
    // A retry after an interrupted transfer resumes it; one after a failed extraction finds the tarball in place.
    const upload = await session.upload(installer, layout.installerTarball, { onProgress, signal, mode: 0o600 });
    steps.upload = upload.skipped ? 'skipped' : 'uploaded';
    await mustRun(
      session,
      sh`mkdir -p ${layout.dir} && tar -C ${layout.dir} --no-same-owner --exclude harbor/harbor.yml.tmpl -xzf ${layout.installerTarball} && printf '%s' ${upload.sha256} > ${layout.extractedStamp} && rm -f -- ${layout.installerTarball}`,
      'extracting the Harbor installer',
      { timeoutMs: 600_000, signal },
    );
    steps.extract = 'extracted';
  }

  const ports = input.plainHttp ? [input.harbor.httpPort] : [input.harbor.httpPort, input.harbor.httpsPort];
  const installed = (await asRoot(session, sh`test -f ${`/etc/systemd/system/${HARBOR_UNIT}`} && test -f ${layout.compose}`, { timeoutMs: 30_000 })).code === 0;
  let started = false;
  let restarted = false;
  if (installed && (await restartPending(session, SERVICE))) {
    // An interrupted attempt wrote files Harbor does not serve yet (a new CA, a port): until prepare and a restart,
    // the API below would be reached with the new CA at the old certificate, and fail on every re-run.
    await restartHarbor(session, layout.installerDir, true, signal);
    await waitHarborHealthy(session, input, signal);
    restarted = true;
  }
  if (installed && !(await serviceActive(session))) {
    // Restart from the running state: Harbor's API (the password check below) needs Harbor up.
    await refuseForeignListeners(session, ports, 'Harbor');
    await mustRun(session, `systemctl start ${HARBOR_UNIT}`, 'starting harbor.service', { timeoutMs: 300_000, signal });
    await waitHarborHealthy(session, input, signal);
    started = true;
  }
  if (installed) steps.password = await applyAdminPassword(session, input, layout.harborYml, signal);

  const changed = [
    await putFile(session, `${layout.ssl}/server.crt`, input.pki.serverCert, 0o644, SERVICE),
    await putFile(session, `${layout.ssl}/server.key`, input.pki.serverKey, 0o600, SERVICE),
    await putFile(session, `${layout.ssl}/ca.crt`, input.pki.caCert, 0o644, SERVICE),
    await putFile(session, layout.harborYml, renderHarborYml(await installerTemplate(installer), input.harbor, layout, input.plainHttp), 0o600, SERVICE),
  ].some(Boolean);
  steps.config = changed ? 'updated' : 'skipped';
  await mustRun(session, sh`mkdir -p ${input.harbor.dataDir}`, `creating ${input.harbor.dataDir}`);

  if (!installed) {
    await refuseForeignListeners(session, ports, 'Harbor');
    await markPending(session, SERVICE);
    await mustRun(session, sh`cd ${layout.installerDir} && ./install.sh`, 'running Harbor\'s install.sh', { timeoutMs: 1_200_000, signal });
  }
  // harbor.yml or a certificate changed in this run: prepare re-renders Harbor's configs from them.
  const prepare = installed && (await restartPending(session, SERVICE));
  const unit = composeUnit('Harbor (installed by kk)', HARBOR_PROJECT, layout.compose);
  await putFile(session, `/etc/systemd/system/${HARBOR_UNIT}`, unit, 0o644, installed ? SERVICE : undefined);
  if (await restartPending(session, SERVICE)) {
    // install.sh started the project already; the unit takes it over (compose attaches to the running services).
    await restartHarbor(session, layout.installerDir, prepare, signal);
    steps.service = installed ? 'restarted' : 'installed';
  } else if (restarted) {
    steps.service = 'restarted';
  } else {
    const active = await serviceActive(session);
    if (!active) {
      await refuseForeignListeners(session, ports, 'Harbor');
      await mustRun(session, `systemctl enable ${HARBOR_UNIT} && systemctl start ${HARBOR_UNIT}`, 'starting harbor.service', { timeoutMs: 300_000, signal });
    } else if (started) await mustRun(session, `systemctl enable ${HARBOR_UNIT}`, 'enabling harbor.service');
    steps.service = active && !started ? 'skipped' : 'started';
  }
  return steps;
}

/** Harbor's owed restart: `prepare` (harbor.yml and certificates into its configs) when asked, then the unit's restart. */
async function restartHarbor(session: HostSession, installerDir: string, prepare: boolean, signal: AbortSignal): Promise<void> {
  if (prepare) await mustRun(session, sh`cd ${installerDir} && ./prepare`, 'running Harbor\'s prepare', { timeoutMs: 600_000, signal });
  await mustRun(session, 'systemctl daemon-reload', 'systemctl daemon-reload');
  await mustRun(session, `systemctl enable ${HARBOR_UNIT} && systemctl restart ${HARBOR_UNIT}`, 'starting harbor.service', { timeoutMs: 300_000, signal });
  await clearPending(session, SERVICE);
}

async function serviceActive(session: HostSession): Promise<boolean> {
  return (await asRoot(session, sh`systemctl is-active ${HARBOR_UNIT}`, { timeoutMs: 30_000 })).stdout.trim() === 'active';
}

/** harbor.yml.tmpl read from the installer on this worker (the host never gets the template and its defaults). */
async function installerTemplate(installer: string): Promise<string> {
  const { stdout } = await execFileAsync('tar', ['-xzOf', installer, 'harbor/harbor.yml.tmpl'], { maxBuffer: 4 << 20 }).catch((err: Error) => {
    throw hostFailure('InvalidInput', `${installer} has no harbor/harbor.yml.tmpl: not a Harbor offline installer (${err.message.split('\n')[0]})`);
  });
  return stdout;
}

/**
 * The configured admin password logs in, or is set through the API with the one Harbor has now (the one in the
 * harbor.yml kk wrote before). Run before harbor.yml is rewritten, so a retry finds the new password working.
 */
async function applyAdminPassword(session: HostSession, input: HarborNodeInput, harborYml: string, signal: AbortSignal): Promise<string> {
  const wanted = await nodeApi(session, input, admin(input), signal).currentUser();
  if (wanted.ok) return 'skipped';
  // Read as YAML: the renderer quotes and escapes a password with special characters.
  const written = parseDocument((await asRoot(session, sh`cat ${harborYml} 2>/dev/null || true`, { timeoutMs: 30_000 })).stdout).get('harbor_admin_password');
  const current = written === undefined || written === null ? undefined : String(written);
  const old = current && current !== input.harbor.adminPassword ? await nodeApi(session, input, { username: 'admin', password: current }, signal).currentUser() : undefined;
  if (!old?.ok) {
    throw hostFailure(
      'CommandFailed',
      `${describeHost(session.target)}: Harbor's admin password is neither the configured one nor the one kk set before; set the password Harbor has now as image_registry.auth.password (kk then keeps it), or change it in Harbor's UI to the configured one`,
    );
  }
  await nodeApi(session, input, { username: 'admin', password: current! }, signal).changePassword(old.user.user_id, current!, input.harbor.adminPassword);
  return 'changed';
}

/**
 * Health gate: Harbor's /api/v2.0/health over TLS with the CA, the overall status and every component healthy
 * (Harbor answers 200 either way). A timeout names what is not healthy and the last answer.
 */
export async function waitHarborHealthy(session: HostSession, input: HarborNodeInput, signal: AbortSignal, timeoutMs = 300_000): Promise<string> {
  const api = nodeApi(session, input, admin(input), signal);
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    try {
      const h = await api.health();
      if (h.healthy) return 'healthy';
      last = `status ${h.status}, not healthy: ${h.unhealthy.join(', ') || 'no components reported'}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
  throw hostFailure('NotReady', `${describeHost(session.target)}: Harbor is not healthy after ${timeoutMs / 1000}s: ${last}`);
}

/**
 * The system robot peers replicate with (push, pull and delete on every project), with the secret kk keeps: created,
 * its permissions corrected, or its secret set only where the kept one does not log in.
 */
export async function ensureReplicationRobot(session: HostSession, input: HarborNodeInput, signal: AbortSignal): Promise<string> {
  const api = nodeApi(session, input, admin(input), signal);
  const spec = replicationRobotSpec(REPLICATION_ROBOT);
  const robot = (await api.listRobots()).find((r) => r.name === `robot$${REPLICATION_ROBOT}`);
  let outcome = 'skipped';
  let id = robot?.id;
  if (!robot) {
    id = (await api.createRobot(spec)).id;
    outcome = 'created';
  } else if (!robotHasPermissions(robot, spec.permissions)) {
    await api.updateRobot(robot.id, spec);
    outcome = 'updated';
  }
  const login = await nodeApi(session, input, { username: `robot$${REPLICATION_ROBOT}`, password: input.harbor.replicationSecret }, signal).currentUser();
  if (!login.ok && login.reason === 'robot') return outcome;
  await api.refreshRobotSecret(id!, input.harbor.replicationSecret);
  return outcome === 'skipped' ? 'secret set' : outcome === 'created' ? outcome : `${outcome}, secret set`;
}

/** The peers this node's kk endpoints name (`kk-peer-<name>`, created by kk) with their URLs, to find the nodes that left. */
export async function meshPeerRefs(session: HostSession, input: HarborNodeInput, signal: AbortSignal): Promise<MeshPeerRef[]> {
  const { registries } = await readMeshState(nodeApi(session, input, admin(input), signal));
  const prefix = meshRegistryName('');
  return registries
    .filter((r) => isKkOwned(r) && r.name.startsWith(prefix))
    .map((r) => ({ name: r.name.slice(prefix.length), url: r.url }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * A node that left the mesh: its own kk endpoints and push policies go (it would otherwise go on pushing, deletions
 * included, into the remaining nodes), and so does kk's replication robot, which the remaining nodes logged in with.
 * A host without kk's Harbor (neither its unit nor an extracted installer) is cleared already: nothing to do.
 */
export async function leaveMesh(session: HostSession, input: HarborNodeInput, signal: AbortSignal): Promise<string[]> {
  // Nothing of kk's Harbor there (`kk delete registry` ran, or the host went to another role): nothing pushes from it.
  if (!(await kkHarborPresent(session))) return [];
  const api = nodeApi(session, input, admin(input), signal);
  const plan = planMesh([], await readMeshState(api));
  const done = (await applyMeshPlan(api, plan, [])).map((a) => `${a.action.kind} ${a.action.name}`);
  const robot = (await api.listRobots()).find((r) => r.name === `robot$${REPLICATION_ROBOT}`);
  if (robot) {
    await api.deleteRobot(robot.id);
    done.push(`deleteRobot ${robot.name}`);
  }
  return done;
}

/** Whether the host has kk's Harbor: its unit, or an installer tree kk extracted (any version). */
export async function kkHarborPresent(session: HostSession): Promise<boolean> {
  const r = await asRoot(session, `test -e /etc/systemd/system/${HARBOR_UNIT} || ls -d ${HARBOR_DIR}/*/.kk-extracted >/dev/null 2>&1`, { timeoutMs: 30_000 });
  return r.code === 0;
}

/** A peer as the workflow names it. */
export interface MeshPeerTarget {
  name: string;
  address: string;
}

/** Replication endpoints and event-based push policies to every peer, reconciled by name; returns what changed. */
export async function reconcileMesh(session: HostSession, input: HarborNodeInput, peers: MeshPeerTarget[], signal: AbortSignal): Promise<string[]> {
  const api = nodeApi(session, input, admin(input), signal);
  const wanted: MeshPeer[] = peers.map((p) => ({
    name: p.name,
    url: `https://${p.address.includes(':') ? `[${p.address}]` : p.address}:${input.harbor.httpsPort}`,
    accessKey: `robot$${REPLICATION_ROBOT}`,
    accessSecret: input.harbor.replicationSecret,
  }));
  const plan = planMesh(wanted, await readMeshState(api));
  if (plan.conflicts.length) throw hostFailure('CommandFailed', `${describeHost(session.target)}: replication objects with kk's names that kk did not create: ${plan.conflicts.join('; ')}; rename or remove them`);
  // Each peer's health first (Harbor refuses an endpoint whose peer is down): a deadline, then a retryable failure.
  const applied = await applyMeshPlan(api, plan, wanted, { peerWait: { timeoutMs: PEER_WAIT_MS, intervalMs: 3000, signal } }).catch((err: unknown) => {
    if (err instanceof PeerNotReadyError) throw hostFailure('NotReady', `${describeHost(session.target)}: ${err.message}`);
    if (err instanceof PeerRefusedError) throw hostFailure('CommandFailed', `${describeHost(session.target)}: ${err.message}`);
    throw err;
  });
  return applied.map((a) => `${a.action.kind} ${a.action.name}`);
}

/**
 * One manual execution of every kk policy that never had one, awaited by its task counts, so images pushed before the
 * mesh existed (or before a node joined) reach every peer: event-based replication only sees new pushes.
 */
export async function backfillReplication(session: HostSession, input: HarborNodeInput, signal: AbortSignal): Promise<string[]> {
  const api = nodeApi(session, input, admin(input), signal);
  const { policies } = await readMeshState(api);
  const out: string[] = [];
  for (const policy of policies.filter((p) => p.name.startsWith('kk-push-to-'))) {
    // Decided by Harbor's state, not this run's: a policy with a finished manual execution was backfilled already
    // (events carry every later push), so a re-run starts none; a new policy (a node joined) gets one.
    // One still running (an interrupted attempt started it) is awaited: a second would copy everything again.
    const state = await api.backfill(policy.id);
    if (state.done) continue;
    const id = state.running ?? (await api.startExecution(policy.id));
    const outcome = await api.awaitExecution(id, { timeoutMs: 600_000, intervalMs: 2000 });
    if (!outcome.ok) {
      const logs = outcome.failedTasks.map((t) => `${t.task.src_resource}: ${t.log.trim().split('\n').slice(-3).join(' | ')}`).join('; ');
      throw hostFailure('CommandFailed', `${describeHost(session.target)}: replication ${policy.name} failed: ${logs}`);
    }
    out.push(`${policy.name}: ${outcome.execution.succeed}/${outcome.execution.total}`);
  }
  return out;
}

/** A bound on waiting for replication, fixed by the workflow: an absolute deadline (epoch ms) and the seconds it names. */
export interface ReplicationBound {
  deadline: number;
  seconds: number;
}

/**
 * Whether an artifact is in this node's Harbor (verification that replication reached it). With a bound, every attempt
 * (activity retries included) polls until the same deadline and the miss is final, so the time the error names holds;
 * without one, each attempt polls for two minutes.
 */
export async function harborHasArtifact(session: HostSession, input: HarborNodeInput, repository: string, reference: string, signal: AbortSignal, bound?: ReplicationBound): Promise<string> {
  const api = nodeApi(session, input, admin(input), signal);
  const deadline = bound?.deadline ?? Date.now() + 120_000;
  for (;;) {
    const a = await api.getArtifact(repository, reference);
    if (a) return a.digest;
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, Math.min(2000, Math.max(0, deadline - Date.now()))));
  }
  const at = reference.startsWith('sha256:') ? `${repository}@${reference}` : `${repository}:${reference}`;
  const message = `${describeHost(session.target)}: ${at} did not reach this node's Harbor within ${bound?.seconds ?? 120}s${bound ? ' of the push' : ''} (replication)`;
  throw bound ? ApplicationFailure.create({ type: 'NotReady', message, nonRetryable: true }) : hostFailure('NotReady', message);
}

/** A project exists (private) on this node, so a push into it is accepted. */
export async function ensureHarborProject(session: HostSession, input: HarborNodeInput, name: string, signal: AbortSignal): Promise<string> {
  return (await nodeApi(session, input, admin(input), signal).ensureProject(name)).created ? 'created' : 'skipped';
}
