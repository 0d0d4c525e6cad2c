import * as fs from 'node:fs';
import * as path from 'node:path';
import { docker } from '../docker-engine';
import { log } from '../process';
import { ARTIFACT_CACHE, contentKey, debianPackage, imageTarball, placeArtifact, sha256OfFile } from './common';
import { distributionBinary, DISTRIBUTION_VERSION } from './distribution';

/** The official image's default config: filesystem storage in /var/lib/registry, port 5000. */
const CONFIG = `version: 0.1
log:
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: /var/lib/registry
http:
  addr: :5000
  headers:
    X-Content-Type-Options: [nosniff]
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
`;

/** The official image's entrypoint: `registry serve CONFIG` when given a config file. */
const ENTRYPOINT = `#!/bin/sh
set -e
case "$1" in
  *.yaml|*.yml) set -- registry serve "$@" ;;
  serve|garbage-collect|help|-*) set -- registry "$@" ;;
esac
exec "$@"
`;

const APPLETS = ['sh', 'ls', 'cat', 'mkdir', 'rm', 'ps', 'wget', 'nc', 'echo', 'sleep', 'env', 'id', 'du', 'df', 'grep', 'tar'];

/**
 * A `registry:<version>` image that behaves like the official one (config at /etc/docker/registry/config.yml, data in
 * /var/lib/registry, port 5000): distribution built from its Go module, with busybox, as a docker-save tgz.
 */
export async function registryImage(): Promise<{ version: string; tarball: string }> {
  const binary = await distributionBinary();
  const busybox = await debianPackage('busybox-static');
  const version = DISTRIBUTION_VERSION;
  const key = contentKey([version, sha256OfFile(binary), sha256OfFile(path.join(busybox.dir, 'bin/busybox')), CONFIG, ENTRYPOINT, APPLETS]);
  const cached = path.join(ARTIFACT_CACHE, `docker-registry-${version}-${key}.tgz`);
  if (!fs.existsSync(cached)) {
    log(`building registry:${version} image`);
    const root = `${cached}.root`;
    fs.rmSync(root, { recursive: true, force: true });
    const put = (rel: string, text: string, mode = 0o644) => {
      fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
      fs.writeFileSync(path.join(root, rel), text, { mode });
    };
    fs.mkdirSync(path.join(root, 'bin'), { recursive: true });
    fs.copyFileSync(binary, path.join(root, 'bin/registry'));
    fs.chmodSync(path.join(root, 'bin/registry'), 0o755);
    fs.copyFileSync(path.join(busybox.dir, 'bin/busybox'), path.join(root, 'bin/busybox'));
    fs.chmodSync(path.join(root, 'bin/busybox'), 0o755);
    for (const a of APPLETS) fs.symlinkSync('busybox', path.join(root, 'bin', a));
    put('etc/docker/registry/config.yml', CONFIG);
    put('entrypoint.sh', ENTRYPOINT, 0o755);
    put('etc/passwd', 'root:x:0:0:root:/root:/bin/sh\n');
    put('etc/group', 'root:x:0:\n');
    fs.mkdirSync(path.join(root, 'etc/ssl/certs'), { recursive: true });
    fs.copyFileSync('/etc/ssl/certs/ca-certificates.crt', path.join(root, 'etc/ssl/certs/ca-certificates.crt'));
    for (const d of ['var/lib/registry', 'tmp']) fs.mkdirSync(path.join(root, d), { recursive: true, mode: 0o1777 });
    await imageTarball(
      root,
      `registry:${version}`,
      ['ENV PATH=/bin', 'ENTRYPOINT ["/entrypoint.sh"]', 'CMD ["/etc/docker/registry/config.yml"]', 'EXPOSE 5000', 'VOLUME ["/var/lib/registry"]'],
      cached,
      docker,
    );
    fs.rmSync(root, { recursive: true, force: true });
  }
  placeArtifact(cached, `image-registry/docker-registry/${version}/amd64/docker-registry-${version}-linux-amd64.tgz`);
  return { version, tarball: cached };
}
