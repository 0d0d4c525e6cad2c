import { ConfigError } from '../../config/errors';
import { HOST_NAME_PATTERN } from '../../config/hosts';
import { lazy } from '../../runtime/lazy';

/**
 * `kk worker`: a long-running worker for kk's task queue; run any number of them, on any machines. It acts on an
 * inventory's `local` hosts (commands as root on this machine) only for the INVENTORY/NAME given with --local-host or
 * KK_LOCAL_HOSTS: any run on the queue could otherwise make it act on the machine it runs on. For each of them it
 * also polls that host's queue (`<queue>/local/<inventory>/<host>`), where every step on the host waits for it.
 */
export async function workerCommand(workdir: string, options: { localHosts?: string | true } = {}): Promise<number> {
  if (options.localHosts === true) throw new ConfigError(['--local-host: needs INVENTORY/NAME (the inventory\'s metadata.name and the host name of this machine)']);
  // The Temporal SDK, webpack and ssh2 are loaded here, when a worker starts: the other commands start without them.
  const [{ loadCodecKey }, { clusterTaskQueue }, { connectWorker, resolveEndpoint }, { parseLocalHosts }, { createKkWorker, runWorker, stopWorker }, { installLogging }] = await Promise.all([
    lazy<typeof import('../../runtime/codec')>(() => require('../../runtime/codec')),
    lazy<typeof import('../../runtime/data-converter')>(() => require('../../runtime/data-converter')),
    lazy<typeof import('../../runtime/temporal')>(() => require('../../runtime/temporal')),
    lazy<typeof import('../../worker/local-hosts')>(() => require('../../worker/local-hosts')),
    lazy<typeof import('../../worker/worker')>(() => require('../../worker/worker')),
    lazy<typeof import('../logging')>(() => require('../logging')),
  ]);
  const localHosts = parseLocalHosts(options.localHosts, process.env.KK_LOCAL_HOSTS);
  const problems = [...localHosts].flatMap((h) => localHostProblem(h));
  if (problems.length) throw new ConfigError(problems);
  installLogging(workdir, 'INFO');
  const endpoint = await resolveEndpoint(workdir);
  const connection = await connectWorker(endpoint);
  const w = await createKkWorker({ connection, namespace: endpoint.namespace, workdir, codecKey: loadCodecKey(workdir), localHosts });
  const local = w.local.length ? `; local hosts: ${w.local.map((l) => `${l.host} (queue ${l.taskQueue})`).join(', ')}` : '; no local hosts (--local-host INVENTORY/NAME to serve one)';
  process.stderr.write(`kk worker ${w.identity} polling ${clusterTaskQueue()} (this build's queue) on ${endpoint.address} (namespace ${endpoint.namespace})${local}; Ctrl-C stops it\n`);
  const stop = () => stopWorker(w);
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await runWorker(w);
  await connection.close();
  return 0;
}

/**
 * A --local-host value must be INVENTORY/NAME, both parts names: a bare NAME would serve every inventory's host of that
 * name (each inventory has its own `localhost`), so it is refused, with the form to use.
 */
export function localHostProblem(value: string): string[] {
  const parts = value.split('/');
  const where = `--local-host/KK_LOCAL_HOSTS ${JSON.stringify(value)}`;
  if (parts.length === 1 && HOST_NAME_PATTERN.test(value)) {
    return [`${where}: name the inventory too, as INVENTORY/${value} (INVENTORY is the metadata.name of the inventory that lists this machine as ${value}; "default" for KubeKey's built-in one): every inventory has its own local hosts, and two machines must not share one's steps`];
  }
  if (parts.length !== 2 || !parts.every((p) => HOST_NAME_PATTERN.test(p))) return [`${where}: is not INVENTORY/NAME (an inventory's metadata.name and a host name: letters, digits, ".", "_" or "-")`];
  return [];
}
