import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { localTemporal } from './support/temporal';
import { Worker } from '@temporalio/worker';
import type { Activities } from '../activities';
import type { HostTarget } from '../config/hosts';
import type { DockerRegistryNodeInput, HarborNodeInput, RegistryNodeInput, RegistryNodeResult } from '../registry/types';
import { kkDataConverter } from '../runtime/data-converter';
import { workflowBundle } from '../worker/bundle';
import { initRegistryWorkflow, keepalivedNodeWorkflow, REPLICATION_BOUND_SECONDS, registryNodeWorkflow } from '../workflows/init-registry';
import { hostFacts, hostProbe, precheckInputFor } from './support/host-facts';
import { fixHostUpdate, parkedQuery, type ParkedHost } from '../workflows/messages';

/**
 * The node plan with stubbed activities, on a real Temporal server: which branch each registry type takes, a step
 * that fails for good parks the host (memo and query), a fix that would change what is installed is refused, a fix
 * with corrected connection data lets the run finish, and a host that is not parked refuses a fix.
 */
let env: TestWorkflowEnvironment;
const codecKey = Buffer.alloc(32, 9);

before(async () => {
  env = await localTemporal(codecKey);
});

after(async () => {
  await env?.teardown();
});

const host: HostTarget = { name: 'n1', local: false, address: '10.9.9.1', port: 22, user: 'ops', password: 'old-password' };
const common = {
  host,
  versions: { docker: '24.0.7', compose: 'v2.20.3', registry: 'v2.10.1' },
  artifacts: { amd64: { docker: '/a/docker.tgz', compose: '/a/compose', registry: '/a/registry.tgz' } },
  port: 443,
  plainHttp: false,
  pki: { caCert: 'ca', serverCert: 'crt', serverKey: 'key' },
  trustNames: ['10.9.9.1'],
  address: '10.9.9.1',
};
const harborNode: HarborNodeInput = {
  ...common,
  type: 'harbor',
  harbor: { hostname: '10.9.9.1', httpPort: 80, httpsPort: 443, dataDir: '/var/lib/harbor/data', adminPassword: 'a', databasePassword: 'd', replicationSecret: 'r' },
};
const registryNode: DockerRegistryNodeInput = { ...common, type: 'docker-registry', versions: { ...common.versions, registry: '2.8.3' }, registryConfig: 'version: 0.1' };
const facts = { arch: 'amd64', machine: 'x86_64', interfaces: [] } as never;

/** Activities that record what they were asked; installDocker refuses the old password until it is corrected. */
function stubs(calls: string[], factsDelayMs = 0): Partial<Activities> {
  return {
    async gatherFacts() {
      await new Promise((r) => setTimeout(r, factsDelayMs));
      return facts;
    },
    async installDocker(input: RegistryNodeInput) {
      calls.push(`installDocker as ${input.host.password}`);
      if (input.host.password === 'old-password') throw ApplicationFailure.create({ type: 'SshAuthFailed', message: `${input.host.name}: authentication failed`, nonRetryable: true });
      return 'installed';
    },
    async installCompose() {
      return 'installed';
    },
    async trustRegistryCa() {
      return 'updated';
    },
    async deployRegistry(input: RegistryNodeInput) {
      calls.push(`deploy ${input.type}`);
      return { service: 'started' };
    },
    async waitRegistryHealthy(input: RegistryNodeInput) {
      calls.push(`health ${input.type}`);
      return 'healthy';
    },
  };
}

async function worker(taskQueue: string, activities: Partial<Activities>): Promise<Worker> {
  return Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities, dataConverter: kkDataConverter(codecKey) });
}

/** An update's refusal comes back as "Workflow Update failed" with the validator's message as its cause. */
async function refused(update: Promise<unknown>, message: RegExp): Promise<void> {
  await assert.rejects(update, (err: Error) => message.test((err.cause as Error | undefined)?.message ?? err.message));
}

async function waitParked(workflowId: string): Promise<ParkedHost> {
  const handle = env.client.workflow.getHandle(workflowId);
  for (let i = 0; i < 100; i++) {
    const parked = await handle.query(parkedQuery);
    if (parked) return parked;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${workflowId} did not park`);
}

describe('registry node plan (stubbed activities)', () => {
  it('each registry type takes its own deploy and health branch; the shared steps are the same', async () => {
    const calls: string[] = [];
    const fixed = { ...host, password: 'right' };
    await (await worker('plan', stubs(calls))).runUntil(async () => {
      await env.client.workflow.execute(registryNodeWorkflow, { taskQueue: 'plan', workflowId: 'plan-harbor', args: [{ ...harborNode, host: fixed }] });
      await env.client.workflow.execute(registryNodeWorkflow, { taskQueue: 'plan', workflowId: 'plan-registry', args: [{ ...registryNode, host: fixed }] });
    });
    assert.deepEqual(calls, ['installDocker as right', 'deploy harbor', 'health harbor', 'installDocker as right', 'deploy docker-registry', 'health docker-registry']);
  });

  it('a step that fails for good parks the host; a fix changing the type is refused; corrected connection data finishes it', async () => {
    const calls: string[] = [];
    const result = await (await worker('plan-park', stubs(calls))).runUntil(async () => {
      const handle = await env.client.workflow.start(registryNodeWorkflow, { taskQueue: 'plan-park', workflowId: 'plan-park', args: [harborNode] });
      const parked = await waitParked('plan-park');
      assert.equal(parked.step, 'installDocker');
      assert.equal(parked.type, 'SshAuthFailed');
      assert.match(parked.fix, /check spec\.hosts\.n1\.connector user, password or private_key/);
      assert.deepEqual((await handle.describe()).memo?.parked, parked, 'kk status reads it from the memo, with no worker');
      await refused(handle.executeUpdate(fixHostUpdate, { args: [{ node: { ...registryNode, host } }] }), /image_registry\.type: this run installs harbor, not docker-registry/);
      await refused(handle.executeUpdate(fixHostUpdate, { args: [{ node: { ...harborNode, versions: { ...harborNode.versions, docker: '25.0.0' } } }] }), /values other than the connection data/);
      assert.equal(await handle.executeUpdate(fixHostUpdate, { args: [{ host: { ...host, password: 'new-password' } }] }), 'n1: installDocker went through');
      return (await handle.result()) as RegistryNodeResult;
    });
    assert.equal(result.steps.docker, 'installed');
    assert.equal(result.fixedInput?.host.password, 'new-password', 'the run reaches the host the new way after the node');
    assert.deepEqual(calls.slice(0, 2), ['installDocker as old-password', 'installDocker as new-password']);
  });

  it('a host that is not parked refuses a fix', async () => {
    await (await worker('plan-slow', stubs([], 2000))).runUntil(async () => {
      const handle = await env.client.workflow.start(registryNodeWorkflow, { taskQueue: 'plan-slow', workflowId: 'plan-unparked', args: [{ ...registryNode, host: { ...host, password: 'ok' } }] });
      await new Promise((r) => setTimeout(r, 500));
      await refused(handle.executeUpdate(fixHostUpdate, { args: [{}] }), /n1 is not waiting for a fix/);
      await handle.result();
    });
  });

  it("a host whose keepalived cannot be deployed parks in its HA child; the fix's connection data finishes it and is handed back", async () => {
    const calls: string[] = [];
    const activities: Partial<Activities> = {
      async deployKeepalived(target: HostTarget) {
        calls.push(`deployKeepalived as ${target.password}`);
        if (target.password === 'old-password') throw ApplicationFailure.create({ type: 'CommandFailed', message: `${target.name}: keepalived did not start`, nonRetryable: true });
        return { service: 'started' };
      },
    };
    const settings = { version: '2.0.20', vip: '10.9.9.100', prefix: 24, interface: 'eth0', self: { name: 'n1', address: '10.9.9.1' }, peers: [], priority: 150, virtualRouterId: 51, authPass: 'p', healthUrl: 'https://127.0.0.1:443/v2/' } as never;
    const result = await (await worker('plan-ha', activities)).runUntil(async () => {
      const handle = await env.client.workflow.start(keepalivedNodeWorkflow, { taskQueue: 'plan-ha', workflowId: 'plan-ha/ha/n1', args: [{ host, settings, caCert: 'ca', imageTarball: '/a/keepalived.tar' }] });
      const parked = await waitParked('plan-ha/ha/n1');
      assert.equal(parked.step, 'deployKeepalived');
      assert.match(parked.fix, /fix what the message names on the host/);
      await refused(handle.executeUpdate(fixHostUpdate, { args: [{ host: { ...host, name: 'n2' } }] }), /refused for n1: the fix is for n2/);
      assert.equal(await handle.executeUpdate(fixHostUpdate, { args: [{ node: { ...registryNode, host: { ...host, password: 'new-password' } } }] }), 'n1: deployKeepalived went through');
      return handle.result();
    });
    assert.deepEqual(result.steps, { service: 'started' });
    assert.equal(result.fixedHost?.password, 'new-password');
    assert.deepEqual(calls, ['deployKeepalived as old-password', 'deployKeepalived as new-password']);
  });
});

describe('Harbor mesh and verification plan (stubbed activities)', () => {
  const node = (name: string, address: string): HarborNodeInput => ({ ...harborNode, host: { ...host, name, address, password: 'ok' }, address, trustNames: [address] });
  const nodes = [node('h1', '10.9.9.1'), node('h2', '10.9.9.2')];
  const leaver = (name: string, address: string): HostTarget => ({ ...host, name, address, password: 'ok' });
  // No host to probe (the nodes' steps are stubbed): the configuration's checks pass, so the install goes on.
  const precheck = precheckInputFor({
    registryHosts: ['h1', 'h2'],
    type: 'harbor',
    versions: { docker: '24.0.7', docker_compose: 'v2.20.3', harbor: 'v2.10.1' },
    thresholds: { minMemoryMb: 1, minControlPlaneCpus: 1, minDataDiskGb: 1, maxClockSkewSeconds: 60 },
  });

  it("every node reconciles its endpoints to the others; a leaver is cleared only at its endpoints' address, one not in the inventory or under a reused name is named; the probe's digest is awaited on every node within the bound", async () => {
    const calls: string[] = [];
    const activities: Partial<Activities> = {
      ...stubs([]),
      async checkArtifacts() {
        return [];
      },
      // No keepalived from an earlier HA install (the run has no ha_vip): each node is asked to remove its own.
      async readKeepalivedMembers() {
        return [];
      },
      async removeKeepalived() {
        return 'absent';
      },
      async readMeshPeers(input: HarborNodeInput) {
        // h3 is not in the inventory; h4's name is (a reused name: another address); h5 is, at its endpoint's address.
        return input.host.name === 'h1'
          ? [{ name: 'h2', url: 'https://10.9.9.2:443' }, { name: 'h3', url: 'https://10.9.9.3:443' }, { name: 'h4', url: 'https://10.9.9.4:443' }, { name: 'h5', url: 'https://10.9.9.5:443' }]
          : [{ name: 'h1', url: 'https://10.9.9.1:443' }];
      },
      async probeHost() {
        return hostProbe(hostFacts());
      },
      async ensureReplicationRobot(input: HarborNodeInput) {
        return input.host.name === 'h2' ? 'secret set' : 'skipped';
      },
      async leaveReplicationMesh(input: HarborNodeInput) {
        calls.push(`leave ${input.host.name}`);
        return [];
      },
      async reconcileReplicationMesh(input: HarborNodeInput, peers) {
        calls.push(`mesh ${input.host.name}: ${peers.map((p) => p.name).join(', ')}`);
        return [];
      },
      async backfillReplication() {
        return [];
      },
      async ensureHarborProject() {
        return 'skipped';
      },
      async pushProbe(_host: HostTarget, endpoint: string) {
        return { image: `${endpoint}/kk-verify/probe:latest`, digest: `sha256:${'a'.repeat(64)}` };
      },
      async pullProbe() {},
      async waitHarborArtifact(input: HarborNodeInput, repository: string, reference: string, bound) {
        calls.push(`await ${input.host.name} ${repository}@${reference} within ${bound?.seconds}s, ${Math.round(((bound?.deadline ?? 0) - Date.now()) / 1000)}s left`);
        return reference;
      },
    };
    const report = await (await worker('plan-mesh', activities)).runUntil(() =>
      env.client.workflow.execute(initRegistryWorkflow, { taskQueue: 'plan-mesh', workflowId: 'plan-mesh', args: [{ precheck: { ...precheck, hosts: [leaver('h4', '10.9.9.44'), leaver('h5', '10.9.9.5')] }, nodes, endpoint: '10.9.9.1' }] }),
    );
    assert.deepEqual(calls.filter((c) => c.startsWith('mesh')).sort(), ['mesh h1: h2', 'mesh h2: h1']);
    assert.deepEqual(report.meshLeavers, { cleared: { h5: [] }, unreachable: ['h3'], mismatched: ["h4: the kk endpoints point at https://10.9.9.4:443, the inventory's h4 is at 10.9.9.44"] });
    assert.deepEqual(calls.filter((c) => c.startsWith('leave')), ['leave h5'], 'only the leaver at its endpoints\' address is reached: not one the inventory lacks, nor a reused name');
    const awaited = calls.filter((c) => c.startsWith('await')).sort();
    assert.equal(awaited.length, 2);
    for (const [i, c] of awaited.entries()) {
      const m = new RegExp(`^await h${i + 1} kk-verify/probe@sha256:a{64} within ${REPLICATION_BOUND_SECONDS}s, (\\d+)s left$`).exec(c);
      assert.ok(m && Number(m[1]) > REPLICATION_BOUND_SECONDS - 30 && Number(m[1]) <= REPLICATION_BOUND_SECONDS, c);
    }
    assert.equal(report.verification.digest, `sha256:${'a'.repeat(64)}`);
    assert.deepEqual(report.verification.replicatedTo, ['h1', 'h2']);
  });
});
