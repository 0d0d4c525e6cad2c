import * as fs from 'node:fs';
import * as path from 'node:path';
import { docker } from '../docker-engine';
import { log, run } from '../process';
import { ARTIFACT_CACHE, contentKey, copySharedLibraries, debianPackage, imageTarball, placeArtifact, sha256OfFile, upstreamVersion } from './common';

/**
 * Follows the conventions of the image KubeKey's keepalived compose names (osixia/keepalived): tagged
 * `osixia/keepalived:<ver>`, run with the host network, config at /etc/keepalived/keepalived.conf (or osixia's
 * assets path), keepalived in the foreground. curl is inside so a health check can verify the registry over TLS.
 */
const ENTRYPOINT = `#!/bin/sh
conf=/etc/keepalived/keepalived.conf
[ -f /container/service/keepalived/assets/keepalived.conf ] && conf=/container/service/keepalived/assets/keepalived.conf
mkdir -p /run/keepalived
exec /usr/sbin/keepalived --dont-fork --log-console --log-detail --use-file "$conf" "$@"
`;

const APPLETS = ['sh', 'ls', 'cat', 'mkdir', 'rm', 'ps', 'nc', 'echo', 'sleep', 'env', 'id', 'grep', 'ip', 'kill', 'test', '['];

/** keepalived as Debian builds it; installed on this machine (never started: no init runs it here) to read its libraries. */
async function ensureKeepalivedBinary(): Promise<{ binary: string; version: string }> {
  if (!fs.existsSync('/usr/sbin/keepalived')) {
    log('installing keepalived (binary only: its service is not started)');
    // policy-rc.d keeps the package's scripts from starting the daemon on this machine.
    fs.writeFileSync('/usr/sbin/policy-rc.d', '#!/bin/sh\nexit 101\n', { mode: 0o755 });
    try {
      await run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'keepalived'], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    } finally {
      fs.rmSync('/usr/sbin/policy-rc.d', { force: true });
    }
  }
  const version = upstreamVersion((await run('dpkg-query', ['-W', '-f', '${Version}', 'keepalived'])).trim());
  return { binary: '/usr/sbin/keepalived', version };
}

export async function keepalivedImage(): Promise<{ version: string }> {
  const { binary, version } = await ensureKeepalivedBinary();
  const busybox = await debianPackage('busybox-static');
  const curl = '/usr/bin/curl';
  const key = contentKey([version, sha256OfFile(binary), sha256OfFile(curl), sha256OfFile(path.join(busybox.dir, 'bin/busybox')), ENTRYPOINT, APPLETS]);
  const cached = path.join(ARTIFACT_CACHE, `keepalived-${version}-${key}.tgz`);
  if (!fs.existsSync(cached)) {
    log(`building osixia/keepalived:${version} image`);
    const root = `${cached}.root`;
    fs.rmSync(root, { recursive: true, force: true });
    const put = (rel: string, text: string, mode = 0o644) => {
      fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
      fs.writeFileSync(path.join(root, rel), text, { mode });
    };
    for (const [src, dest] of [[binary, 'usr/sbin/keepalived'], [curl, 'usr/bin/curl'], [path.join(busybox.dir, 'bin/busybox'), 'bin/busybox']] as const) {
      fs.mkdirSync(path.dirname(path.join(root, dest)), { recursive: true });
      fs.copyFileSync(src, path.join(root, dest));
      fs.chmodSync(path.join(root, dest), 0o755);
    }
    for (const a of APPLETS) fs.symlinkSync('busybox', path.join(root, 'bin', a));
    await copySharedLibraries(binary, root);
    await copySharedLibraries(curl, root);
    put('container/tool/run', ENTRYPOINT, 0o755);
    put('etc/passwd', 'root:x:0:0:root:/root:/bin/sh\nkeepalived_script:x:999:999::/:/bin/false\n');
    put('etc/group', 'root:x:0:\nkeepalived_script:x:999:\n');
    fs.mkdirSync(path.join(root, 'etc/keepalived'), { recursive: true });
    fs.mkdirSync(path.join(root, 'etc/ssl/certs'), { recursive: true });
    fs.copyFileSync('/etc/ssl/certs/ca-certificates.crt', path.join(root, 'etc/ssl/certs/ca-certificates.crt'));
    for (const d of ['run', 'tmp']) fs.mkdirSync(path.join(root, d), { recursive: true, mode: 0o1777 });
    await imageTarball(root, `osixia/keepalived:${version}`, ['ENV PATH=/usr/sbin:/usr/bin:/bin', 'ENTRYPOINT ["/container/tool/run"]'], cached, docker);
    fs.rmSync(root, { recursive: true, force: true });
  }
  placeArtifact(cached, `image-registry/keepalived/${version}/amd64/keepalived-${version}-linux-amd64.tgz`);
  return { version };
}
