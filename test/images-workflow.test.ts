import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { Activities } from '../activities';
import type { ImagePlan, ImagePushResult, PushImagesInput, PushTarget } from '../registry/images/types';
import type { HarborNodeInput } from '../registry/types';
import { kkDataConverter } from '../runtime/data-converter';
import { workflowBundle } from '../worker/bundle';
import { pushImagesWorkflow } from '../workflows/push-images';
import { localTemporal } from './support/temporal';

/**
 * The push workflow with stubbed activities on a real Temporal server: each image is its own activity, a failing
 * image is retried alone while the others finish, one that fails for good fails the run naming it (the others
 * reported done), Harbor's projects come first on every node and the run waits for replication to every node.
 */
let env: TestWorkflowEnvironment;
const codecKey = Buffer.alloc(32, 7);

before(async () => {
  env = await localTemporal(codecKey);
});

after(async () => {
  await env?.teardown();
});

const target: PushTarget = { address: '10.9.9.1', scheme: 'https', connectHost: '10.9.9.1', port: 443, servername: '10.9.9.1', caCert: 'ca', journalDir: '/tmp/none' };
const image = (repository: string): ImagePlan => ({
  source: `docker.io/${repository}:1`,
  repository,
  tag: '1',
  imagesDir: '/none',
  manifest: { digest: `sha256:${'0'.repeat(64)}`, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 10, file: '/none', blobs: [] },
});
const result = (plan: ImagePlan, attempt: number): ImagePushResult => ({
  image: plan.source,
  target: `${target.address}/${plan.repository}:${plan.tag}`,
  digest: plan.manifest.digest,
  blobs: { total: 0, sent: 0, skipped: 0, mounted: 0 },
  bytes: { total: 10, sent: 10 },
  manifests: { sent: 1, skipped: 0 },
  attempt,
});
const harborNode = (name: string) =>
  ({ host: { name, local: false, address: name, port: 22, user: 'root' }, harbor: { adminPassword: 'a' } }) as unknown as HarborNodeInput;

async function worker(taskQueue: string, activities: Partial<Activities>): Promise<Worker> {
  return Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: await workflowBundle(), activities, dataConverter: kkDataConverter(codecKey) });
}

describe('pushImagesWorkflow', () => {
  it('retries a failing image alone; one that fails for good fails the run naming it, the others done', async () => {
    const calls: string[] = [];
    const activities: Partial<Activities> = {
      async pushImage(_t: PushTarget, plan: ImagePlan) {
        calls.push(plan.repository);
        const attempt = calls.filter((c) => c === plan.repository).length;
        if (plan.repository === 'lib/flaky' && attempt < 3) throw ApplicationFailure.create({ type: 'NotReady', message: 'connection reset' });
        if (plan.repository === 'lib/bad') throw ApplicationFailure.create({ type: 'CommandFailed', message: 'MANIFEST_INVALID', nonRetryable: true });
        return result(plan, attempt);
      },
    };
    const input: PushImagesInput = { registryType: 'docker-registry', target, images: [image('lib/flaky'), image('lib/ok'), image('lib/bad')], concurrency: 3 };
    const err = await (await worker('push-fail', activities)).runUntil(
      env.client.workflow.execute(pushImagesWorkflow, { taskQueue: 'push-fail', workflowId: 'push-fail', args: [input] }).then(
        () => assert.fail('the run should fail'),
        (e: unknown) => e,
      ),
    );
    assert.ok(err instanceof WorkflowFailedError);
    const cause = err.cause as ApplicationFailure;
    assert.equal(cause.type, 'ImagesFailed');
    assert.match(cause.message, /^1 of 3 images failed \(the others are in the registry\).*docker\.io\/lib\/bad:1: CommandFailed: MANIFEST_INVALID/);
    assert.deepEqual(calls.filter((c) => c === 'lib/flaky').length, 3, 'the flaky image was tried three times');
    assert.deepEqual(calls.filter((c) => c === 'lib/ok').length, 1, 'the others were not tried again');
    assert.deepEqual(calls.filter((c) => c === 'lib/bad').length, 1, 'a failure no retry changes is not retried');
    const details = cause.details?.[0] as { done: ImagePushResult[] };
    assert.deepEqual(details.done.map((d) => [d.image, d.attempt]).sort(), [['docker.io/lib/flaky:1', 3], ['docker.io/lib/ok:1', 1]]);
  });

  it('Harbor: projects on every node first, then the images, then every image on every node', async () => {
    const calls: string[] = [];
    const activities: Partial<Activities> = {
      async ensureImageProjects(n: HarborNodeInput, projects: string[], publicProjects: boolean) {
        calls.push(`projects ${n.host.name} ${projects.join(',')} public=${publicProjects}`);
        return projects.map((p) => `${p} created`);
      },
      async pushImage(_t: PushTarget, plan: ImagePlan) {
        calls.push(`push ${plan.repository}`);
        return result(plan, 1);
      },
      async waitHarborArtifact(n: HarborNodeInput, repository: string, reference: string) {
        calls.push(`replicated ${n.host.name} ${repository}:${reference}`);
        return 'present';
      },
    };
    const input: PushImagesInput = {
      registryType: 'harbor',
      target,
      images: [image('kubernetes/pause'), image('library/hello')],
      harbor: { nodes: [harborNode('h1'), harborNode('h2')], projects: ['kubernetes', 'library'], publicProjects: false },
      concurrency: 1,
    };
    const report = await (await worker('push-harbor', activities)).runUntil(env.client.workflow.execute(pushImagesWorkflow, { taskQueue: 'push-harbor', workflowId: 'push-harbor', args: [input] }));
    assert.deepEqual(calls.slice(0, 2).sort(), ['projects h1 kubernetes,library public=false', 'projects h2 kubernetes,library public=false']);
    assert.deepEqual(calls.slice(2, 4), ['push kubernetes/pause', 'push library/hello']);
    assert.deepEqual(calls.slice(4).sort(), ['replicated h1 kubernetes/pause:1', 'replicated h1 library/hello:1', 'replicated h2 kubernetes/pause:1', 'replicated h2 library/hello:1']);
    assert.deepEqual(report.replicatedTo, ['h1', 'h2']);
    assert.deepEqual(report.projects, { h1: ['kubernetes created', 'library created'], h2: ['kubernetes created', 'library created'] });
    const memo = (await env.client.workflow.getHandle('push-harbor').describe()).memo;
    assert.deepEqual(memo?.images, { 'docker.io/kubernetes/pause:1': 'done', 'docker.io/library/hello:1': 'done' });
  });
});
