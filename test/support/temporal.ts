import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { kkDataConverter } from '../../runtime/data-converter';
import { ensureTemporalCli } from '../../runtime/temporal-cli';

/**
 * A real Temporal server for workflow tests (@temporalio/testing on the CLI kk installs: nothing downloaded at run
 * time), with a client that speaks kk's codec. The SDK's own log is kept to errors.
 */
export async function localTemporal(codecKey: Buffer): Promise<TestWorkflowEnvironment> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  return TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: await ensureTemporalCli() } },
    client: { dataConverter: kkDataConverter(codecKey) },
  });
}
