import { ConfigError } from '../../config/errors';
import { HOST_NAME_PATTERN } from '../../config/hosts';
import { lazy } from '../../runtime/lazy';

/**
 * `kk worker`: a long-running worker for kk's task queue; run any number of them, on any machines. It acts on an
 * inventory's `local` hosts (commands as root on this machine) only for the names given with --local-host or
 * KK_LOCAL_HOSTS: any run on the queue could otherwise make it act on the machine it runs on. For each of them it
 * also polls that host's queue (`<queue>/local/<host>`), where every step on the host waits for it.
 */
export async function workerCommand(workdir: string, options: { localHosts?: string | true } = {}): Promise<number> {
  if (options.localHosts === true) throw new ConfigError(['--local-host: needs a host name (the inventory name of this machine)']);
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
  const bad = [...localHosts].filter((h) => !HOST_NAME_PATTERN.test(h));
  if (bad.length) throw new ConfigError([`--local-host/KK_LOCAL_HOSTS: ${bad.map((h) => JSON.stringify(h)).join(', ')} is not an inventory host name (letters, digits, ".", "_" or "-")`]);
  installLogging(workdir, 'INFO');
  const endpoint = await resolveEndpoint(workdir);
  const connection = await connectWorker(endpoint);
  const w = await createKkWorker({ connection, namespace: endpoint.namespace, workdir, codecKey: loadCodecKey(workdir), localHosts });
  const local = w.local.length ? `; local hosts: ${w.local.map((l) => `${l.host} (queue ${l.taskQueue})`).join(', ')}` : '; no local hosts (--local-host NAME to serve one)';
  process.stderr.write(`kk worker ${w.identity} polling ${clusterTaskQueue()} (this build's queue) on ${endpoint.address} (namespace ${endpoint.namespace})${local}; Ctrl-C stops it\n`);
  const stop = () => stopWorker(w);
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await runWorker(w);
  await connection.close();
  return 0;
}
