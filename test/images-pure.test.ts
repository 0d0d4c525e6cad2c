import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError } from '../config/errors';
import { labImageSpecs, writeImageLayout } from '../lab/artifacts/image-layout';
import { planImages, pushImagesInput, selectImages } from '../registry/images/input';
import { loadConfig } from '../config/load';
import { ensureRegistryPki } from '../pki';
import { LayoutError, readImageLayout } from '../registry/images/layout';
import { formatReference, harborProject, parseImageReference, registryPathPrefix, targetRepository } from '../registry/images/names';
import { parseChallenge } from '../activities/images/client';

/** `kk artifact images --push` without the lab: names as KubeKey maps them, both layouts read, the plan. */
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'kk-images-'));
const specs = labImageSpecs(64 * 1024);

describe('image names (KubeKey)', () => {
  it('normalises as KubeKey does', () => {
    assert.equal(formatReference(parseImageReference('nginx')), 'docker.io/library/nginx:latest');
    assert.equal(formatReference(parseImageReference('calico/node:v3.27.0')), 'docker.io/calico/node:v3.27.0');
    assert.equal(formatReference(parseImageReference('registry.k8s.io/pause:3.9')), 'registry.k8s.io/pause:3.9');
    assert.equal(formatReference(parseImageReference('localhost:5000/a/b:1')), 'localhost:5000/a/b:1');
    const d = `sha256:${'a'.repeat(64)}`;
    assert.equal(parseImageReference(`quay.io/x/y@${d}`).reference, d);
    assert.throws(() => parseImageReference('Upper/Case:1'), /not a valid name/);
    assert.throws(() => parseImageReference('a/b:bad tag'), /not an image name/);
  });

  it('maps registry.k8s.io/<x> to kubernetes/<x>, drops the source registry, keeps auth.registry\'s path', () => {
    assert.equal(targetRepository(parseImageReference('registry.k8s.io/pause:3.9')), 'kubernetes/pause');
    assert.equal(targetRepository(parseImageReference('registry.k8s.io/sig-storage/csi:1')), 'sig-storage/csi');
    assert.equal(targetRepository(parseImageReference('docker.io/calico/node:v1')), 'calico/node');
    assert.equal(targetRepository(parseImageReference('nginx:1')), 'library/nginx');
    assert.equal(registryPathPrefix('dockerhub.kubekey.local/mirror'), 'mirror');
    assert.equal(registryPathPrefix('dockerhub.kubekey.local:8443'), '');
    assert.equal(targetRepository(parseImageReference('registry.k8s.io/pause:3.9'), 'mirror'), 'mirror/kubernetes/pause');
    assert.throws(() => registryPathPrefix('reg.local/../etc'), /not a repository path/);
    assert.throws(() => registryPathPrefix('reg.local/Mirror'), /not a repository path/);
    assert.equal(harborProject('kubernetes/pause'), 'kubernetes');
    assert.equal(harborProject('pause'), undefined);
  });

  it('reads registry challenges', () => {
    assert.deepEqual(parseChallenge('Bearer realm="https://h/service/token",service="harbor-registry"'), { scheme: 'bearer', params: { realm: 'https://h/service/token', service: 'harbor-registry' } });
    assert.equal(parseChallenge('Basic realm="Registry Realm"')?.scheme, 'basic');
    assert.equal(parseChallenge('Negotiate'), undefined);
  });
});

describe('image layouts', () => {
  for (const format of ['kubekey', 'oci'] as const) {
    it(`reads the ${format} layout: every image, an index with its platforms, blobs with sizes`, () => {
      const dir = tmp();
      writeImageLayout(dir, specs, format);
      const layout = readImageLayout(dir);
      assert.equal(layout.format, format);
      assert.deepEqual(layout.images.map((i) => i.source).sort(), specs.map((s) => s.name).sort());
      const pause = layout.images.find((i) => i.source === 'registry.k8s.io/pause:3.9')!;
      assert.deepEqual(pause.manifest.children?.map((c) => c.platform), ['linux/amd64', 'linux/arm64']);
      assert.equal(pause.manifest.children![0]!.blobs.length, 2);
      const padded = layout.images.find((i) => i.source.includes('kk-padded'))!;
      assert.ok(padded.manifest.blobs.some((b) => b.size > 64 * 1024), 'the padded layer keeps its size (it does not compress)');
    });
  }

  it('writes the same bytes twice (stable digests)', () => {
    const [a, b] = [tmp(), tmp()];
    writeImageLayout(a, specs);
    writeImageLayout(b, specs);
    assert.deepEqual(readImageLayout(a).images.map((i) => i.manifest.digest), readImageLayout(b).images.map((i) => i.manifest.digest));
  });

  it('refuses an incomplete layout, naming the missing blob', () => {
    const dir = tmp();
    writeImageLayout(dir, specs.slice(1, 2));
    const blob = fs.readdirSync(path.join(dir, 'blobs'))[0]!;
    fs.rmSync(path.join(dir, 'blobs', blob));
    assert.throws(() => readImageLayout(dir), (err: Error) => err instanceof LayoutError && err.message.includes(blob));
  });

  it('reads KubeKey v4.0.0-v4.0.3 tag files (the manifest itself under its tag)', () => {
    const dir = tmp();
    writeImageLayout(dir, specs.slice(1, 2));
    const manifests = path.join(dir, 'docker.io/library/kk-hello/manifests');
    const digest = (JSON.parse(fs.readFileSync(path.join(manifests, 'layout'), 'utf8')) as Record<string, string>)['1.0']!;
    fs.copyFileSync(path.join(manifests, digest), path.join(manifests, '1.0'));
    fs.rmSync(path.join(manifests, 'layout'));
    assert.deepEqual(readImageLayout(dir).images.map((i) => [i.source, i.manifest.digest]), [['docker.io/library/kk-hello:1.0', digest]]);
  });

  it('plans each image: its target repository and blobs to mount from an earlier one', () => {
    const dir = tmp();
    writeImageLayout(dir, specs);
    const images = readImageLayout(dir).images;
    const plans = planImages(images, dir, undefined);
    const byRepo = Object.fromEntries(plans.map((p) => [p.repository, p]));
    assert.deepEqual(Object.keys(byRepo).sort(), ['kubernetes/pause', 'kubesphere/kk-padded', 'kubesphere/kk-tools', 'library/kk-hello']);
    // kk-hello and kk-tools share their base layer: the later one mounts it from the earlier.
    const mounts = [byRepo['kubesphere/kk-tools']!.mountFrom, byRepo['library/kk-hello']!.mountFrom].filter(Boolean);
    assert.equal(mounts.length, 1);
    assert.equal(Object.keys(mounts[0]!).length, 1);
  });

  it('image_manifests picks images by name; one not in the layout is an error naming it', () => {
    const dir = tmp();
    writeImageLayout(dir, specs);
    const images = readImageLayout(dir).images;
    assert.deepEqual(selectImages(images, ['registry.k8s.io/pause:3.9', 'kk-hello:1.0'], dir).map((i) => i.source), ['registry.k8s.io/pause:3.9', 'docker.io/library/kk-hello:1.0']);
    assert.throws(() => selectImages(images, ['nginx:1.25'], dir), (err: Error) => err instanceof ConfigError && err.problems[0]!.includes('docker.io/library/nginx:1.25'));
  });
});

describe('push input (from the configuration)', () => {
  const inventory = (dir: string) => {
    const file = path.join(dir, 'inventory.yaml');
    fs.writeFileSync(
      file,
      `apiVersion: kubekey.kubesphere.io/v1
kind: Inventory
metadata: {name: pushinput}
spec:
  hosts:
    node1: {connector: {host: 10.0.0.11, password: "x"}, internal_ipv4: 10.0.0.11}
    node2: {connector: {host: 10.0.0.12, password: "x"}, internal_ipv4: 10.0.0.12}
  groups:
    image_registry: {hosts: [node1, node2]}
`,
    );
    return file;
  };
  const load = (dir: string, sets: string[]) =>
    loadConfig({
      inventoryPath: inventory(dir),
      workdir: path.join(dir, 'work'),
      sets: ['harbor_version=v2.10.1,docker_version=24.0.7,dockercompose_version=v2.20.3,keepalived_version=2.0.20', `binary_dir=${path.join(dir, 'bin')}`, ...sets],
    });

  it('without the CA kk init registry made, nothing starts (exit 2 naming the file)', async () => {
    const dir = tmp();
    writeImageLayout(path.join(dir, 'bin', 'images'), specs.slice(0, 1));
    await assert.rejects(pushImagesInput(load(dir, [])), (err: Error) => err instanceof ConfigError && /pki\/root\.crt: missing/.test(err.problems[0]!));
  });

  it('a named endpoint is reached through the VIP and verified by its name; Harbor projects from the images; private by default', async () => {
    const dir = tmp();
    writeImageLayout(path.join(dir, 'bin', 'images'), specs);
    await ensureRegistryPki(path.join(dir, 'work'), ['dockerhub.kubekey.local']);
    const input = await pushImagesInput(load(dir, ['image_registry.ha_vip=10.0.0.100', 'image_registry.auth.registry=dockerhub.kubekey.local', 'image_registry.auth.password=Secret-1']));
    assert.deepEqual(
      { address: input.target.address, connect: input.target.connectHost, name: input.target.servername, port: input.target.port },
      { address: 'dockerhub.kubekey.local', connect: '10.0.0.100', name: 'dockerhub.kubekey.local', port: 443 },
    );
    assert.deepEqual(input.target.credentials, { username: 'admin', password: 'Secret-1' });
    assert.deepEqual(input.harbor?.projects, ['kubernetes', 'kubesphere', 'library']);
    assert.equal(input.harbor?.publicProjects, false);
    assert.equal(input.harbor?.nodes.length, 2);
    assert.equal(input.target.journalDir, path.join(dir, 'work', 'uploads'));
  });

  it('an IP endpoint is connected to as is; a path in auth.registry goes in front of every repository', async () => {
    const dir = tmp();
    writeImageLayout(path.join(dir, 'bin', 'images'), specs.slice(0, 1));
    await ensureRegistryPki(path.join(dir, 'work'), ['10.0.0.11']);
    const input = await pushImagesInput(load(dir, ['image_registry.type=docker-registry', 'docker_registry_version=2.8.3', 'image_registry.auth.registry=10.0.0.11:8443/mirror', 'image_registry.auth.password=Secret-1']));
    assert.deepEqual([input.target.address, input.target.connectHost, input.target.port], ['10.0.0.11:8443', '10.0.0.11', 8443]);
    assert.deepEqual(input.images.map((i) => i.repository), ['mirror/kubernetes/pause']);
    assert.equal(input.harbor, undefined);
  });
});
