import type { ResolvedConfig } from '../../config/load';
import { groupHosts } from '../../config/load';
import { lazy } from '../../runtime/lazy';
import type { KkContext } from '../context';
import { runId } from '../run-id';

/**
 * `kk artifact images --push`: the images under `<binary_dir>/images` (or those `image_manifests` names) into the
 * registry `kk init registry` installed, one activity per image, as a durable run that `kk resume` continues.
 */
export async function artifactImagesPushCommand(ctx: KkContext, config: ResolvedConfig, output: 'text' | 'json'): Promise<number> {
  const [{ pushImagesInput }, { localHostNames, startAndFollow }] = await Promise.all([
    lazy<typeof import('../../registry/images/input')>(() => require('../../registry/images/input')),
    lazy<typeof import('../follow')>(() => require('../follow')),
  ]);
  const input = await pushImagesInput(config);
  const hosts = groupHosts(config, 'image_registry');
  process.stderr.write(`pushing ${input.images.length} images from ${input.images[0]!.imagesDir} to ${input.target.address}\n`);
  return startAndFollow(
    ctx,
    {
      workflowType: 'pushImagesWorkflow',
      workflowId: runId('artifact-images', config.inventoryName, hosts),
      args: [input],
      memo: { command: 'artifact images --push', inventory: config.inventoryName, hosts: hosts.map((h) => h.name), localHosts: localHostNames(config.hosts), images: input.images.map((i) => i.source) },
      registryType: config.vars.image_registry.type,
    },
    output,
  );
}
