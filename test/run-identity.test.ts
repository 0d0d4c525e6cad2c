import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { canonicalJson, inputHash } from '../cli/follow';
import { runId } from '../cli/run-id';
import { loadConfig } from '../config/load';
import { initRegistryInput } from '../registry/input';

/** A run's input hash: what tells `kk` whether a running run is this command's or one started with other input. */
describe('run input hash', () => {
  const workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'kk-ih-'));
  const load = (...sets: string[]) =>
    loadConfig({ inventoryPath: path.join(__dirname, 'fixtures', 'seed-registry-inventory.yaml'), sets: ['image_registry.type=docker-registry', ...sets], workdir, generateSecrets: true });

  it('is the same for the same command twice (generated secrets, PKI and keys are kept in the work dir)', async () => {
    const first = await initRegistryInput(load());
    const second = await initRegistryInput(load());
    assert.equal(inputHash([second]), inputHash([first]));
  });

  it('differs when a --set changes the input, while the run id stays the same', async () => {
    const before = load();
    const after = load('image_registry.docker_registry.storage.filesystem.rootdir=/srv/registry');
    assert.equal(runId('init-registry', after.inventoryName, after.hosts), runId('init-registry', before.inventoryName, before.hosts));
    assert.notEqual(inputHash([await initRegistryInput(after)]), inputHash([await initRegistryInput(before)]));
  });

  it('does not depend on the order of object keys', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [2, { f: 1, e: 0 }], c: undefined } }), '{"a":{"d":[2,{"e":0,"f":1}]},"b":1}');
  });
});
