import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { loadConfig } from '../config/load';
import { initRegistryInput } from '../registry/input';
import { CONTAINER_HTPASSWD } from '../registry/layout';
import { nodeRegistryCompose } from '../registry/render';
import type { DockerRegistryNodeInput } from '../registry/types';

/** The docker registry's config.yml and compose file as a node gets them: authentication on and deletes off by default. */
describe('docker-registry config: authentication and deletes', () => {
  const workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'kk-render-'));
  const node = async (...sets: string[]) => {
    const config = loadConfig({ inventoryPath: path.join(__dirname, 'fixtures', 'seed-registry-inventory.yaml'), sets: ['image_registry.type=docker-registry', ...sets], workdir, generateSecrets: true });
    const n = (await initRegistryInput(config)).nodes[0] as DockerRegistryNodeInput;
    const yml = parse(n.registryConfig) as { auth?: { htpasswd?: { path: string } }; storage: { delete: { enabled: boolean } } };
    const volumes = (parse(nodeRegistryCompose(n)) as { services: { registry: { volumes: string[] } } }).services.registry.volumes;
    return { n, yml, volumes };
  };

  it('by default: htpasswd auth with a generated password, mounted read-only, and deletes off', async () => {
    const { n, yml, volumes } = await node();
    assert.deepEqual(yml.auth, { htpasswd: { realm: 'kk-registry', path: CONTAINER_HTPASSWD } });
    assert.equal(yml.storage.delete.enabled, false);
    assert.match(n.htpasswd ?? '', /^admin:\$2[aby]\$/);
    assert.ok(n.credentials?.password, 'a generated password');
    assert.ok(volumes.some((v) => v.endsWith(`:${CONTAINER_HTPASSWD}:ro`)), volumes.join(' '));
  });

  it('delete_enabled=true turns deletes on', async () => {
    assert.equal((await node('image_registry.docker_registry.delete_enabled=true')).yml.storage.delete.enabled, true);
  });

  it('anonymous=true drops auth, the htpasswd file and its mount, and the credentials later steps log in with', async () => {
    const { n, yml, volumes } = await node('image_registry.docker_registry.anonymous=true');
    assert.equal(yml.auth, undefined);
    assert.equal(yml.storage.delete.enabled, false, 'still no deletes');
    assert.equal(n.htpasswd, undefined);
    assert.equal(n.credentials, undefined);
    assert.ok(!volumes.some((v) => v.includes('htpasswd')), volumes.join(' '));
  });
});
