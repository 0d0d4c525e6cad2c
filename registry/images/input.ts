import * as fs from 'node:fs';
import { isIP } from 'node:net';
import * as path from 'node:path';
import { registryEndpoint } from '../../config/derived';
import { ConfigError } from '../../config/errors';
import { hostAddress } from '../../config/hosts';
import { groupHosts, type ResolvedConfig } from '../../config/load';
import { PKI_FILES } from '../../pki';
import { initRegistryInput } from '../input';
import type { HarborNodeInput } from '../types';
import { LayoutError, readImageLayout, type LocalImage } from './layout';
import { formatReference, harborProject, parseImageReference, registryPathPrefix, targetRepository } from './names';
import type { ImagePlan, PushImagesInput } from './types';

/** Images pushed at once. */
export const PUSH_CONCURRENCY = 3;

/** The layout's images that the configuration asks for: `image_manifests` and `download.images.manifests`, or all. */
export function selectImages(images: LocalImage[], wanted: readonly string[], imagesDir: string): LocalImage[] {
  if (!wanted.length) return images;
  const problems: string[] = [];
  const picked: LocalImage[] = [];
  for (const name of new Set(wanted)) {
    let source: string;
    try {
      source = formatReference(parseImageReference(name));
    } catch (err) {
      problems.push(`image_manifests: ${(err as Error).message}`);
      continue;
    }
    const found = images.find((i) => i.source === source);
    if (found) picked.push(found);
    else problems.push(`image_manifests: ${name} (${source}) is not in ${imagesDir}; its images: ${images.map((i) => i.source).join(', ') || 'none'}`);
  }
  if (problems.length) throw new ConfigError(problems);
  return picked;
}

/** Where each image goes, and for each blob another repository of the same push that holds it (to mount from). */
export function planImages(images: LocalImage[], imagesDir: string, authRegistry: string | undefined): ImagePlan[] {
  const prefix = registryPathPrefix(authRegistry);
  const firstHolder = new Map<string, string>();
  return images.map((image) => {
    const repository = targetRepository(image.ref, prefix);
    const mountFrom: Record<string, string> = {};
    const visit = (m: ImagePlan['manifest']) => {
      for (const c of m.children ?? []) visit(c);
      for (const b of m.blobs) {
        const holder = firstHolder.get(b.digest);
        if (holder && holder !== repository) mountFrom[b.digest] = holder;
        else firstHolder.set(b.digest, repository);
      }
    };
    visit(image.manifest);
    return { source: image.source, repository, tag: image.ref.reference, manifest: image.manifest, imagesDir, ...(Object.keys(mountFrom).length && { mountFrom }) };
  });
}

/**
 * Everything `kk artifact images --push` needs, from the configuration `kk init registry` used: the registry's nodes
 * and credentials (the same resolution as the install), the images from `<binary_dir>/images`, and how this
 * machine reaches the endpoint. Problems are configuration errors (exit 2), found before anything runs.
 */
export async function pushImagesInput(config: ResolvedConfig): Promise<PushImagesInput> {
  const vars = config.vars;
  const reg = vars.image_registry;
  const imagesDir = path.join(vars.binary_dir, 'images');
  let layout: ReturnType<typeof readImageLayout>;
  try {
    layout = readImageLayout(imagesDir);
  } catch (err) {
    if (err instanceof LayoutError) throw new ConfigError([`${imagesDir}: ${err.message}`]);
    throw err;
  }
  const selected = selectImages(layout.images, [...vars.image_manifests, ...vars.download.images.manifests], imagesDir);
  if (!selected.length) throw new ConfigError([`${imagesDir}: no images there (KubeKey's layout from kk artifact images --pull or an artifact, or an OCI image layout): nothing to push`]);
  let images: ImagePlan[];
  try {
    images = planImages(selected, imagesDir, reg.auth.registry);
  } catch (err) {
    throw new ConfigError([`image_registry.auth.registry: ${(err as Error).message}`]);
  }
  if (reg.type === 'harbor') {
    const orphans = images.filter((i) => !harborProject(i.repository));
    if (orphans.length) throw new ConfigError(orphans.map((i) => `${i.source}: would go to ${i.repository}, outside any Harbor project; set image_registry.auth.registry to <host>/<project>`));
  }

  const hosts = groupHosts(config, 'image_registry');
  if (!hosts.length) throw new ConfigError(['spec.groups.image_registry: no hosts: list the registry hosts there (kk pushes to the registry they run)']);
  const endpoint = registryEndpoint(vars, hosts);
  const caFile = path.join(vars.work_dir, 'pki', PKI_FILES.caCert);
  if (!endpoint.plainHttp && !fs.existsSync(caFile)) {
    throw new ConfigError([`${caFile}: missing: kk trusts the registry through the CA that kk init registry made in this work dir (use its --workdir), and makes none here`]);
  }
  // The install's own resolution: the same credentials (configured or generated in the work dir), CA and nodes.
  const init = await initRegistryInput(config);
  const first = init.nodes[0]!;
  const host = endpoint.host!;
  return {
    registryType: reg.type,
    target: {
      address: init.endpoint,
      scheme: endpoint.scheme,
      // A name goes where KubeKey's /etc/hosts block maps it: the VIP, else the first registry host.
      connectHost: isIP(host) ? host : (reg.ha_vip ?? hostAddress(hosts[0]!)),
      port: endpoint.plainHttp ? endpoint.httpPort : endpoint.httpsPort,
      servername: host,
      caCert: first.pki.caCert,
      credentials: first.credentials,
      journalDir: path.join(vars.work_dir, 'uploads'),
    },
    images,
    harbor:
      reg.type === 'harbor'
        ? {
            nodes: init.nodes as HarborNodeInput[],
            projects: [...new Set(images.map((i) => harborProject(i.repository)!))].sort(),
            publicProjects: reg.harbor.public_projects,
          }
        : undefined,
    concurrency: PUSH_CONCURRENCY,
  };
}
