import { loadCodecKey } from '../../runtime/codec';
import { TASK_QUEUE } from '../../runtime/data-converter';
import { connectWorker, resolveEndpoint } from '../../runtime/temporal';
import { createKkWorker, runWorker } from '../../worker/worker';
import { installLogging } from '../logging';

/** `kk worker`: a long-running worker for kk's task queue; run any number of them, on any machines. */
export async function workerCommand(workdir: string): Promise<number> {
  installLogging(workdir, 'INFO');
  const endpoint = await resolveEndpoint(workdir);
  const connection = await connectWorker(endpoint);
  const w = await createKkWorker({ connection, namespace: endpoint.namespace, workdir, codecKey: loadCodecKey(workdir) });
  process.stderr.write(`kk worker polling ${TASK_QUEUE} on ${endpoint.address} (namespace ${endpoint.namespace}); Ctrl-C stops it\n`);
  const stop = () => w.worker.shutdown();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await runWorker(w);
  await connection.close();
  return 0;
}
