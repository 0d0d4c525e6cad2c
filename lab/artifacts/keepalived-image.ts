import * as fs from 'node:fs';
import * as path from 'node:path';
import { docker } from '../docker-engine';
import { log, run } from '../process';
import { ARTIFACT_CACHE, contentKey, copySharedLibraries, debianPackage, imageTarball, placeArtifact, sha256OfFile, upstreamVersion } from './common';

/**
 * A stand-in for `osixia/keepalived`, the image users `docker pull` and `docker save` as KubeKey's keepalived artifact.
 * What matters is how that image takes its configuration, so the stand-in keeps its contract (read from the image's
 * repository, osixia/docker-keepalived, and its base image's run tool; written here anew):
 * - entrypoint `/container/tool/run`: loads defaults from `/container/environment/<dir>/*.yaml` (a `docker run -e`
 *   value wins), runs every service's `startup.sh`, then its `process.sh`; `--copy-service` first copies
 *   `/container/service` to `/container/run/service` (once per container) and works on that copy;
 * - the keepalived service's first start replaces `/etc/keepalived/keepalived.conf` with a link to the service's
 *   `assets/keepalived.conf` and fills its `{{ keepalived_* }}` placeholders from `KEEPALIVED_*`. A file bind-mounted at
 *   `/etc/keepalived/keepalived.conf` cannot be replaced, so that container stops at once; without a config of its own in
 *   the assets path keepalived runs the built-in default (192.168.1.231/232 on eth0). Configs go to the assets path,
 *   with `--copy-service` so the mounted file itself is never rewritten (as KubeKey does);
 * - `/usr/local/sbin/keepalived -f /etc/keepalived/keepalived.conf --dont-fork --log-console -D -d`;
 * - busybox, bash and curl inside, as the real image has (health-check scripts use them).
 * The keepalived binary is this machine's Debian build (2.2.7). The same image is also tagged 2.0.20, the version the
 * seed tells users to pull: the binary inside is still 2.2.7, only the tag and the artifact's place say 2.0.20.
 */

/** The version the seed's instructions name (`docker pull osixia/keepalived:2.0.20`); the lab's default. */
export const SEED_KEEPALIVED_VERSION = '2.0.20';

/** The image's own files (lab/artifacts/keepalived-osixia/), copied to /container as they are: the run tool, the
 * keepalived service's startup.sh, process.sh and assets, the environment defaults. */
const IMAGE_FILES = path.join(__dirname, 'keepalived-osixia');

function imageFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(path.join(IMAGE_FILES, dir), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const rel = path.join(dir, e.name);
      if (e.isDirectory()) walk(rel);
      else out.push(rel);
    }
  };
  walk('');
  return out;
}

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

export interface KeepalivedImageBuild {
  /** The Debian keepalived's version: the first tag. */
  binaryVersion: string;
  /** Cached `docker save` tarballs (gzip) by tag version: the binary's version and SEED_KEEPALIVED_VERSION. */
  tarballs: Record<string, string>;
}

/** Builds the image (once, cached by content) as one tarball per tag; does not touch the lab's binary_dir. */
export async function buildKeepalivedImages(): Promise<KeepalivedImageBuild> {
  const { binary, version } = await ensureKeepalivedBinary();
  const busybox = path.join((await debianPackage('busybox-static')).dir, 'bin/busybox');
  const curl = '/usr/bin/curl';
  const bash = '/bin/bash';
  const files = imageFiles();
  const key = contentKey([version, ...[binary, curl, bash, busybox].map(sha256OfFile), files.map((f) => [f, sha256OfFile(path.join(IMAGE_FILES, f))])]);
  const versions = [...new Set([version, SEED_KEEPALIVED_VERSION])];
  const tarballs = Object.fromEntries(versions.map((v) => [v, path.join(ARTIFACT_CACHE, `keepalived-${v}-${key}.tgz`)]));
  if (versions.some((v) => !fs.existsSync(tarballs[v]!))) {
    log(`building osixia/keepalived:${versions.join(', :')} image`);
    const root = path.join(ARTIFACT_CACHE, `keepalived-${key}.root`);
    fs.rmSync(root, { recursive: true, force: true });
    const put = (rel: string, text: string, mode = 0o644) => {
      fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
      fs.writeFileSync(path.join(root, rel), text, { mode });
    };
    for (const [src, dest] of [[binary, 'usr/local/sbin/keepalived'], [curl, 'usr/bin/curl'], [bash, 'bin/bash'], [busybox, 'bin/busybox']] as const) {
      fs.mkdirSync(path.dirname(path.join(root, dest)), { recursive: true });
      fs.copyFileSync(src, path.join(root, dest));
      fs.chmodSync(path.join(root, dest), 0o755);
    }
    // Every applet busybox has, as the real image's Alpine base has them (sh, sed, ln, ip, ...).
    for (const applet of (await run(busybox, ['--list'])).split('\n').map((s) => s.trim()).filter(Boolean)) {
      if (!fs.existsSync(path.join(root, 'bin', applet))) fs.symlinkSync('busybox', path.join(root, 'bin', applet));
    }
    for (const b of [binary, curl, bash]) await copySharedLibraries(b, root);
    for (const f of files) {
      // Scripts are executable, except the notify script: startup.sh makes it so, as the original's does.
      const executable = /(^tool\/|\/(startup|process)\.sh$)/.test(f);
      put(path.join('container', f), fs.readFileSync(path.join(IMAGE_FILES, f), 'utf8'), executable ? 0o755 : 0o644);
    }
    // The original's base image links its tools into the PATH; the scripts call log-helper by name.
    fs.mkdirSync(path.join(root, 'usr/sbin'), { recursive: true });
    for (const t of ['run', 'log-helper']) fs.symlinkSync(`/container/tool/${t}`, path.join(root, 'usr/sbin', t));
    put('etc/passwd', 'root:x:0:0:root:/root:/bin/bash\nkeepalived_script:x:999:999::/:/bin/false\n');
    put('etc/group', 'root:x:0:\nkeepalived_script:x:999:\n');
    fs.mkdirSync(path.join(root, 'etc/keepalived'), { recursive: true });
    fs.mkdirSync(path.join(root, 'etc/ssl/certs'), { recursive: true });
    fs.copyFileSync('/etc/ssl/certs/ca-certificates.crt', path.join(root, 'etc/ssl/certs/ca-certificates.crt'));
    fs.mkdirSync(path.join(root, 'run/keepalived'), { recursive: true });
    fs.mkdirSync(path.join(root, 'tmp'), { recursive: true });
    fs.chmodSync(path.join(root, 'tmp'), 0o1777);
    const changes = ['ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'ENTRYPOINT ["/container/tool/run"]'];
    for (const v of versions) await imageTarball(root, `osixia/keepalived:${v}`, changes, tarballs[v]!, docker);
    fs.rmSync(root, { recursive: true, force: true });
  }
  return { binaryVersion: version, tarballs };
}

/**
 * The keepalived artifacts in KubeKey's layout, under both tags. `version` is the one the lab's --set names: the
 * seed's 2.0.20; `versions` lists every one placed (2.2.7 stays available for a --set that asks for it).
 */
export async function keepalivedImage(): Promise<{ version: string; versions: string[] }> {
  const built = await buildKeepalivedImages();
  for (const [v, tarball] of Object.entries(built.tarballs)) placeArtifact(tarball, `image-registry/keepalived/${v}/amd64/keepalived-${v}-linux-amd64.tgz`);
  return { version: SEED_KEEPALIVED_VERSION, versions: Object.keys(built.tarballs) };
}
