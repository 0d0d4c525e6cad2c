import * as fs from 'node:fs';
import * as path from 'node:path';
import { log, run } from '../process';
import { ARTIFACT_CACHE, contentKey, placeArtifact, sha256OfFile, upstreamVersion } from './common';

/** Docker's static-tarball layout (`docker/dockerd`, …), filled with this machine's Debian docker.io binaries. */
const BINARIES: Record<string, string[]> = {
  dockerd: ['/usr/sbin/dockerd'],
  docker: ['/usr/bin/docker.io', '/usr/bin/docker'],
  'docker-proxy': ['/usr/sbin/docker-proxy'],
  'docker-init': ['/usr/bin/tini-static', '/usr/bin/docker-init'],
  containerd: ['/usr/bin/containerd'],
  'containerd-shim-runc-v2': ['/usr/bin/containerd-shim-runc-v2'],
  ctr: ['/usr/bin/ctr'],
  runc: ['/usr/sbin/runc', '/usr/bin/runc'],
};

export async function dockerStaticTarball(): Promise<{ version: string }> {
  const version = upstreamVersion((await run('dpkg-query', ['-W', '-f', '${Version}', 'docker.io'])).trim());
  const sources = Object.fromEntries(
    Object.entries(BINARIES).map(([name, candidates]) => {
      const found = candidates.find((c) => fs.existsSync(c) && !fs.lstatSync(c).isSymbolicLink()) ?? candidates.find((c) => fs.existsSync(c));
      if (!found) throw new Error(`${name} not found (${candidates.join(', ')}); is docker.io installed?`);
      return [name, found];
    }),
  );
  const key = contentKey([version, Object.values(sources).map((f) => sha256OfFile(f))]);
  const cached = path.join(ARTIFACT_CACHE, `docker-${version}-${key}.tgz`);
  if (!fs.existsSync(cached)) {
    log(`building docker-${version}.tgz`);
    const work = `${cached}.d`;
    fs.rmSync(work, { recursive: true, force: true });
    fs.mkdirSync(path.join(work, 'docker'), { recursive: true });
    for (const [name, src] of Object.entries(sources)) fs.copyFileSync(fs.realpathSync(src), path.join(work, 'docker', name));
    for (const name of Object.keys(sources)) fs.chmodSync(path.join(work, 'docker', name), 0o755);
    await run('tar', ['--owner=0', '--group=0', '--numeric-owner', '-C', work, '-czf', `${cached}.tmp`, 'docker']);
    fs.renameSync(`${cached}.tmp`, cached);
    fs.rmSync(work, { recursive: true, force: true });
  }
  placeArtifact(cached, `docker/${version}/amd64/docker-${version}.tgz`);
  return { version };
}
