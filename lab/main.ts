import * as fs from 'node:fs';
import { ensureArtifacts } from "./artifacts";
import { docker, dockerEnv, ensureDockerEngine, stopDockerEngineIfOurs } from './docker-engine';
import { readLabFile, writeLabFile } from './lab-file';
import { ensureNodeImage } from './node-image';
import { ensureLabKey, ensureNetwork, ensureNode, existingNodes, passwordUserSecret, removeNode, waitNodeReady, type LabNode } from './nodes';
import { containerName, LAB_JSON, LAB_LABEL, NETWORK, nodeAddress } from './paths';
import { log, runInherit } from './process';
import { ensureS3 } from './s3';
import { withUpLock } from './up-lock';
import { ensureTemporalCluster, removeTemporalCluster, temporalClusterConfigured } from './temporal/cluster';

const USAGE = `npm run lab -- COMMAND
  up [--nodes N] [--temporal]            bring up N nodes (default 3) and the artifacts; idempotent; writes .lab/lab.json
                                         --temporal: also a real Temporal cluster (PostgreSQL, server, UI, codec); kept by later ups
  exec NODE -- CMD...                    run a command on a node (output and exit code pass through)
  fault NODE stop|start|restart|kill-sshd|partition|heal
  reset NODE                             recreate a node from the image: a fresh host again
  down                                   remove nodes and network; build caches stay
`;

/**
 * Every node runs systemd and a Docker of its own, each holding inotify instances of the machine's root user; the
 * kernel's default of 128 runs out with a few labs (a node's systemd then stays degraded). Raised, never lowered.
 */
function ensureInotifyInstances(wanted = 1024): void {
  const file = '/proc/sys/fs/inotify/max_user_instances';
  const current = Number(fs.readFileSync(file, 'utf8').trim());
  if (current < wanted) {
    fs.writeFileSync(file, String(wanted));
    log(`raised ${file} from ${current} to ${wanted} (systemd and Docker in every node use inotify)`);
  }
}

async function up(count: number, withTemporal: boolean): Promise<void> {
  const started = Date.now();
  ensureInotifyInstances();
  await ensureDockerEngine();
  const [image, artifacts] = await Promise.all([ensureNodeImage(), ensureArtifacts()]);
  await ensureNetwork();
  const s3 = await ensureS3();
  const { publicKey } = ensureLabKey();
  for (const extra of (await existingNodes()).filter((n) => Number(n.slice(4)) > count)) await removeNode(extra);
  const nodes: LabNode[] = [];
  for (let i = 1; i <= count; i++) nodes.push(await ensureNode(i, image));
  await Promise.all(nodes.map((n) => waitNodeReady(n, publicKey)));
  const temporal = withTemporal || temporalClusterConfigured() ? await ensureTemporalCluster() : undefined;
  writeLabFile(nodes, artifacts.set, s3, passwordUserSecret(), temporal);
  log(`up: ${nodes.map((n) => `${n.name} ${n.address}`).join(', ')} in ${((Date.now() - started) / 1000).toFixed(1)} s; see ${LAB_JSON}`);
}

async function fault(node: string, kind: string): Promise<void> {
  const container = containerName(node);
  const index = Number(/^node(\d+)$/.exec(node)?.[1]);
  if (!index) throw new Error(`unknown node "${node}"`);
  switch (kind) {
    case 'stop':
      await docker(['stop', '--time', '5', container]);
      return;
    case 'start': {
      await docker(['start', container]);
      // Also undoes kill-sshd on a node that kept running.
      await docker(['exec', container, 'systemctl', 'start', 'ssh.service']).catch(() => undefined);
      const lab = readLabFile();
      await waitNodeReady(lab.nodes.find((n) => n.name === node)!, ensureLabKey().publicKey);
      return;
    }
    case 'restart':
      await fault(node, 'stop');
      return fault(node, 'start');
    case 'kill-sshd':
      // Sessions drop at once and sshd stays down until `fault NODE start` or `restart`.
      await docker(['exec', container, 'sh', '-c', 'systemctl stop ssh.service ssh.socket 2>/dev/null; pkill -KILL -x sshd; true']);
      return;
    case 'partition':
      await docker(['network', 'disconnect', '--force', NETWORK, container]);
      return;
    case 'heal':
      await docker(['network', 'connect', '--ip', nodeAddress(index), NETWORK, container]);
      return;
    default:
      throw new Error(`unknown fault "${kind}" (stop|start|restart|kill-sshd|partition|heal)`);
  }
}

async function down(): Promise<void> {
  await ensureDockerEngine().catch(() => undefined);
  const list = async (label: string) => (await docker(['ps', '-aq', '--filter', `label=${label}`]).catch(() => '')).split('\n').filter(Boolean);
  const containers = await list(LAB_LABEL);
  if (containers.length) await docker(['rm', '-f', ...containers]);
  await docker(['network', 'rm', NETWORK]).catch(() => undefined);
  // The engine is shared by every lab on the machine: it stops with the last one.
  if ((await list('kk-lab')).length === 0) await stopDockerEngineIfOurs();
  await removeTemporalCluster();
  fs.rmSync(LAB_JSON, { force: true });
  log('down');
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'up': {
      const i = rest.indexOf('--nodes');
      const count = i >= 0 ? Number(rest[i + 1]) : 3;
      if (!Number.isInteger(count) || count < 1 || count > 9) throw new Error('--nodes takes 1 to 9');
      await withUpLock(() => up(count, rest.includes('--temporal')));
      return 0;
    }
    case 'exec': {
      const [node, sep, ...cmd] = rest;
      if (!node || sep !== '--' || cmd.length === 0) throw new Error('usage: exec NODE -- CMD...');
      return runInherit('docker', ['exec', containerName(node), ...cmd], dockerEnv());
    }
    case 'fault': {
      const [node, kind] = rest;
      if (!node || !kind) throw new Error('usage: fault NODE stop|start|restart|kill-sshd|partition|heal');
      await ensureDockerEngine();
      await fault(node, kind);
      return 0;
    }
    case 'reset': {
      const [node] = rest;
      const index = Number(/^node(\d+)$/.exec(node ?? '')?.[1]);
      if (!index) throw new Error('usage: reset NODE');
      await ensureDockerEngine();
      await removeNode(node!);
      const fresh = await ensureNode(index, await ensureNodeImage());
      await waitNodeReady(fresh, ensureLabKey().publicKey);
      return 0;
    }
    case 'down':
      await down();
      return 0;
    default:
      process.stderr.write(USAGE);
      return command ? 2 : 0;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`lab: ${err.message}\n`);
    process.exit(1);
  },
);


