import type { HostTarget } from '../config/hosts';
import type { ArtifactNeed, ArtifactStatus, HostProbe } from '../precheck/types';
import type { KeepalivedSettings } from '../registry/render';
import type { HarborNodeInput, RegistryNodeInput } from '../registry/types';
import type { MeshPeerRef } from '../registry/harbor/leavers';
import { backfillReplication, deployHarbor, ensureHarborProject, ensureReplicationRobot, harborHasArtifact, leaveMesh, meshPeerRefs, reconcileMesh, waitHarborHealthy, type MeshPeerTarget, type ReplicationBound } from './install/harbor';
import { downloadArtifact } from './artifacts/download';
import { installCompose, installDocker } from './install/docker';
import { Context } from '@temporalio/activity';
import { deployKeepalived, holdsVip, readKeepalivedMembers, removeKeepalived, waitVipServes } from './install/keepalived';
import { deployRegistry, trustCa, waitRegistryHealthy } from './install/registry';
import { pullProbe, pushProbe, type PushedProbe, type RegistryCredentials } from './install/verify';
import type { HostSession } from './ssh/session';
import { FACTS_SCRIPT, parseFacts } from './facts/gather';
import { checkArtifactFiles } from './precheck/artifacts';
import { parseProbe, probeScript, s3HeadCommand, type ProbeSpec } from './precheck/probe';
import type { HostFacts } from '../precheck/host-facts';
import { withHeartbeat } from './heartbeat';
import { createImageActivities } from './images';
import { clusterActivities } from './cluster';
import { hostFailure, isHostFailure } from './ssh/errors';
import type { SessionPool } from './ssh/pool';
import { tail } from './ssh/session';

/** Runs a read-only script as root and returns its output, which must reach `endMarker`. */
async function readScript(session: HostSession, script: string, endMarker: string, what: string, signal: AbortSignal): Promise<string> {
  const r = await session.exec(script, { sudo: true, timeoutMs: 120_000, signal });
  // The script only reads; output cut short means the session broke or a tool hung, which a retry may outlive.
  if (!r.stdout.includes(endMarker)) throw hostFailure('NotReady', `${session.target.name}: ${what} failed: ${tail(r.stderr, 500) || `exit ${r.code}`}`);
  return r.stdout;
}

/** Attempts (about 2 s apart) before two VIP holders count as a blocked VRRP path rather than an election under way. */
const SPLIT_BRAIN_ATTEMPTS = 8;

/** The exhaustive end of a switch on the registry type: a new type must be handled everywhere it matters. */
function unknownType(input: never): never {
  throw hostFailure('InvalidInput', `unknown registry type ${(input as { type: string }).type}`);
}

export interface ActivityDeps {
  pool: SessionPool;
}

/** Activities are built by a factory so the worker hands them its SSH pool (and tests a pool of their own). */
export function createActivities({ pool }: ActivityDeps) {
  /**
   * Runs a step on a host with heartbeats carrying its progress; a connection that broke or timed out is dropped so
   * the retry reconnects.
   */
  function onHost<T>(host: HostTarget, step: (session: HostSession, progress: (offset: number, total: number) => void, signal: AbortSignal) => Promise<T>): Promise<T> {
    let progress: { offset: number; total: number } | undefined;
    return withHeartbeat(
      async (signal) => {
        const session = await pool.get(host);
        try {
          return await step(session, (offset, total) => (progress = { offset, total }), signal);
        } catch (err) {
          if (isHostFailure(err) && !err.nonRetryable) pool.evict(host);
          throw err;
        }
      },
      () => progress,
    );
  }

  const artifactsFor = (input: RegistryNodeInput, arch: string) => {
    const a = input.artifacts[arch];
    if (!a) throw hostFailure('InvalidInput', `${input.host.name}: no artifacts for arch ${arch}`);
    return a;
  };

  return {
    ...createImageActivities(onHost),
    ...clusterActivities(onHost),

    async installDocker(input: RegistryNodeInput, arch: string): Promise<string> {
      // plain_http: Docker must be told the registry's names are insecure, or no push or pull goes through.
      const insecure = input.plainHttp ? input.trustNames : [];
      return onHost(input.host, (s, p, signal) => installDocker(s, artifactsFor(input, arch).docker, input.versions.docker, insecure, p, signal));
    },

    async installCompose(input: RegistryNodeInput, arch: string): Promise<string> {
      return onHost(input.host, (s, p, signal) => installCompose(s, artifactsFor(input, arch).compose, input.versions.compose, p, signal));
    },

    async trustRegistryCa(host: HostTarget, names: string[], caCert: string): Promise<string> {
      return onHost(host, (s) => trustCa(s, names, caCert));
    },

    /** Downloads the artifacts given as URLs into binary_dir (resumable, hash-checked), where the install reads them. */
    async fetchArtifacts(needs: ArtifactNeed[]): Promise<string[]> {
      let progress: { offset: number; total: number } | undefined;
      return withHeartbeat(
        async (signal) => {
          const done: string[] = [];
          for (const need of needs.filter((n) => n.url)) {
            const r = await downloadArtifact(need.url!, need.localPath, { signal, onProgress: (offset, total) => (progress = { offset, total }) });
            done.push(`${need.name} ${need.arch}: ${r.skipped ? 'present' : `downloaded${r.resumedFrom ? ` (resumed at ${r.resumedFrom})` : ''}`}`);
          }
          return done;
        },
        () => progress,
      );
    },

    /** The registry itself: the one step (with its health gate) that depends on the registry type. */
    async deployRegistry(input: RegistryNodeInput, arch: string): Promise<Record<string, string>> {
      const artifact = artifactsFor(input, arch).registry;
      switch (input.type) {
        case 'docker-registry':
          return onHost(input.host, (s, p, signal) => deployRegistry(s, input, artifact, p, signal));
        case 'harbor':
          return onHost(input.host, (s, p, signal) => deployHarbor(s, input, artifact, p, signal));
        default:
          return unknownType(input);
      }
    },

    async waitRegistryHealthy(input: RegistryNodeInput): Promise<string> {
      switch (input.type) {
        case 'docker-registry':
          return onHost(input.host, (s, _p, signal) => waitRegistryHealthy(s, input, signal));
        case 'harbor':
          return onHost(input.host, (s, _p, signal) => waitHarborHealthy(s, input, signal));
        default:
          return unknownType(input);
      }
    },

    /** Harbor HA: the robot account peers replicate with, the same secret on every node. */
    async ensureReplicationRobot(input: HarborNodeInput): Promise<string> {
      return onHost(input.host, (s, _p, signal) => ensureReplicationRobot(s, input, signal));
    },

    /** Harbor HA: this node's endpoints and push policies to every peer, reconciled by name. */
    async reconcileReplicationMesh(input: HarborNodeInput, peers: MeshPeerTarget[]): Promise<string[]> {
      return onHost(input.host, (s, _p, signal) => reconcileMesh(s, input, peers, signal));
    },

    /** Harbor: the peers this node's kk endpoints name, with their URLs, to find the nodes that left image_registry. */
    async readMeshPeers(input: HarborNodeInput): Promise<MeshPeerRef[]> {
      return onHost(input.host, (s, _p, signal) => meshPeerRefs(s, input, signal));
    },

    /** Harbor: a node that left image_registry drops its kk endpoints, push policies and replication robot. */
    async leaveReplicationMesh(input: HarborNodeInput): Promise<string[]> {
      return onHost(input.host, (s, _p, signal) => leaveMesh(s, input, signal));
    },

    /** Harbor HA: one manual run of each kk policy, so images already present reach every peer. */
    async backfillReplication(input: HarborNodeInput): Promise<string[]> {
      return onHost(input.host, (s, _p, signal) => backfillReplication(s, input, signal));
    },

    async ensureHarborProject(input: HarborNodeInput, project: string): Promise<string> {
      return onHost(input.host, (s, _p, signal) => ensureHarborProject(s, input, project, signal));
    },

    /** Harbor HA verification: the image reached this node's own Harbor (through replication). */
    async waitHarborArtifact(input: HarborNodeInput, repository: string, reference: string, bound?: ReplicationBound): Promise<string> {
      return onHost(input.host, (s, _p, signal) => harborHasArtifact(s, input, repository, reference, signal, bound));
    },

    async deployKeepalived(host: HostTarget, settings: KeepalivedSettings, caCert: string, imageTarball: string): Promise<Record<string, string>> {
      return onHost(host, (s, p, signal) => deployKeepalived(s, settings, caCert, imageTarball, p, signal));
    },

    /**
     * Which of the hosts holds the VIP; retried (NotReady) until exactly one does. Two holders that persist past the
     * election mean the nodes do not hear each other's VRRP adverts: a firewall dropping IP protocol 112.
     */
    async findVipHolder(hosts: HostTarget[], vip: string): Promise<string> {
      const holders = (await Promise.all(hosts.map(async (h) => ((await onHost(h, (s) => holdsVip(s, vip))) ? h.name : undefined)))).filter((h): h is string => Boolean(h));
      if (holders.length === 1) return holders[0]!;
      if (holders.length > 1 && Context.current().info.attempt >= SPLIT_BRAIN_ATTEMPTS) {
        throw hostFailure(
          'CommandFailed',
          `${vip} is held by ${holders.join(' and ')} at once: they do not receive each other's VRRP adverts (IP protocol 112). ` +
            `Allow VRRP between the registry hosts, e.g. \`iptables -I INPUT -p vrrp -j ACCEPT\` or \`firewall-cmd --permanent --add-rich-rule='rule protocol value="vrrp" accept' && firewall-cmd --reload\`, ` +
            `and make sure no host outside image_registry still runs kk-keepalived for this VIP`,
        );
      }
      throw hostFailure('NotReady', `${vip} is held by ${holders.length ? holders.join(', ') : 'no registry host'} (exactly one expected)`);
    },

    async waitVipServes(host: HostTarget, vip: string, url: string, caPath: string): Promise<string> {
      return onHost(host, (s, _p, signal) => waitVipServes(s, vip, url, caPath, signal));
    },

    /** The addresses this host's keepalived was last configured with (itself and its peers), to find who left. */
    async readKeepalivedMembers(host: HostTarget): Promise<string[]> {
      return onHost(host, (s) => readKeepalivedMembers(s));
    },

    /** A host that left image_registry: its keepalived stops and goes, so it cannot hold the VIP beside the group. */
    async removeKeepalived(host: HostTarget): Promise<string> {
      return onHost(host, (s) => removeKeepalived(s));
    },

    async pushProbe(host: HostTarget, endpoint: string, credentials?: RegistryCredentials): Promise<PushedProbe> {
      return onHost(host, (s, _p, signal) => pushProbe(s, endpoint, credentials, signal));
    },

    async pullProbe(host: HostTarget, image: string, credentials?: RegistryCredentials): Promise<void> {
      return onHost(host, (s, _p, signal) => pullProbe(s, image, credentials, signal));
    },

    /** Reads what a host is: OS, arch, resources, interfaces, docker, existing registry units, clock. */
    async gatherFacts(host: HostTarget): Promise<HostFacts> {
      return onHost(host, async (session, _p, signal) => parseFacts(await readScript(session, FACTS_SCRIPT, '@@end', 'facts script', signal)));
    },

    /** Precheck's look at a host: facts plus listening ports, reach to peers, the VIP; changes nothing. */
    async probeHost(host: HostTarget, spec: ProbeSpec): Promise<HostProbe> {
      return onHost(host, async (session, _p, signal) => {
        const before = Date.now();
        const out = await readScript(session, `${FACTS_SCRIPT}\n${probeScript(spec)}`, '@@probe-end', 'precheck probe', signal);
        const facts = parseFacts(out.slice(0, out.indexOf('@@end') + 5));
        // The host read its clock early in the script: compare it with the start of the call.
        const probe: HostProbe = { facts, clockOffsetSeconds: facts.clock - before / 1000, ...parseProbe(out, spec) };
        if (spec.s3) {
          const head = s3HeadCommand(spec.s3);
          const r = await session.exec(head.command, { stdin: head.stdin, timeoutMs: 30_000, signal });
          const status = Number(r.stdout.trim());
          probe.s3 = status > 0 ? { status } : { error: r.stderr.trim().split('\n').pop() || `curl exit ${r.code}` };
        }
        return probe;
      });
    },

    /** Whether every artifact the install needs is where the configuration says (on this worker). */
    async checkArtifacts(needs: ArtifactNeed[]): Promise<ArtifactStatus[]> {
      // Hashing a 600 MB installer on a busy machine outlasts the heartbeat timeout: beat while it runs.
      return withHeartbeat(() => checkArtifactFiles(needs));
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
