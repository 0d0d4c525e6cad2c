import * as fs from 'node:fs';
import * as path from 'node:path';
import { docker, dockerEnv, dockerOk } from '../docker-engine';
import { goBinary, goBuildEnv } from '../go';
import { PROJECT } from '../paths';
import { log, run } from '../process';
import { ARTIFACT_CACHE, contentKey, debianPackage, imageTarball, placeArtifact, sha256OfFile } from './common';

/** The Harbor version the stand-in plays (the seed's). */
export const HARBOR_VERSION = 'v2.10.1';
const SOURCE = path.join(PROJECT, 'lab', 'harbor-standin');

/**
 * The lab's Harbor STAND-IN offline installer, in Harbor's layout (`harbor/harbor.<ver>.tar.gz`, `install.sh`,
 * `prepare`, `common.sh`, `harbor.yml.tmpl`). Real Harbor images cannot be had here; its images are the stand-in's
 * API and TLS front (Go, standard library only, built here) and a real distribution registry.
 */
export async function harborInstaller(registryImageTarball: string, registryVersion: string): Promise<{ version: string }> {
  const sources = fs.readdirSync(SOURCE, { recursive: true }).map(String).filter((f) => !fs.statSync(path.join(SOURCE, f)).isDirectory()).sort();
  const busybox = await debianPackage('busybox-static');
  const key = contentKey([HARBOR_VERSION, sources.map((f) => [f, sha256OfFile(path.join(SOURCE, f))]), sha256OfFile(registryImageTarball)]);
  const cached = path.join(ARTIFACT_CACHE, `harbor-offline-installer-${HARBOR_VERSION}-${key}.tgz`);
  if (!fs.existsSync(cached)) {
    log(`building the Harbor stand-in offline installer ${HARBOR_VERSION}`);
    const work = `${cached}.d`;
    fs.rmSync(work, { recursive: true, force: true });
    const root = path.join(work, 'core-root');
    fs.mkdirSync(path.join(root, 'harbor'), { recursive: true });
    await run(goBinary(), ['build', '-trimpath', '-ldflags', `-s -w -X main.version=${HARBOR_VERSION}`, '-o', path.join(root, 'harbor', 'harbor-standin'), '.'], { cwd: SOURCE, env: goBuildEnv() });
    fs.mkdirSync(path.join(root, 'bin'), { recursive: true });
    fs.copyFileSync(path.join(busybox.dir, 'bin/busybox'), path.join(root, 'bin/busybox'));
    fs.chmodSync(path.join(root, 'bin/busybox'), 0o755);
    for (const a of ['sh', 'ls', 'cat']) fs.symlinkSync('busybox', path.join(root, 'bin', a));
    fs.mkdirSync(path.join(root, 'etc/ssl/certs'), { recursive: true });
    fs.copyFileSync('/etc/ssl/certs/ca-certificates.crt', path.join(root, 'etc/ssl/certs/ca-certificates.crt'));
    fs.writeFileSync(path.join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
    for (const d of ['data', 'tmp', 'harbor_cust_cert']) fs.mkdirSync(path.join(root, d), { recursive: true });
    const images = [`goharbor/harbor-core:${HARBOR_VERSION}`, `goharbor/prepare:${HARBOR_VERSION}`, `goharbor/registry-photon:${HARBOR_VERSION}`];
    await imageTarball(root, images[0]!, ['ENV PATH=/bin:/harbor', 'ENTRYPOINT ["/harbor/harbor-standin"]', 'CMD ["serve"]'], path.join(work, 'core.tgz'), docker);
    await docker(['tag', images[0]!, images[1]!]);
    if (!(await dockerOk(['image', 'inspect', `registry:${registryVersion}`]))) await docker(['load', '-i', registryImageTarball]);
    await docker(['tag', `registry:${registryVersion}`, images[2]!]);

    const dir = path.join(work, 'harbor');
    fs.mkdirSync(dir, { recursive: true });
    await run('sh', ['-c', 'docker save "$@" | gzip -1 > "$0"', path.join(dir, `harbor.${HARBOR_VERSION}.tar.gz`), ...images], { env: dockerEnv() });
    for (const f of ['install.sh', 'prepare', 'common.sh', 'harbor.yml.tmpl']) {
      const text = fs.readFileSync(path.join(SOURCE, 'installer', f), 'utf8').replaceAll('__VERSION__', HARBOR_VERSION);
      fs.writeFileSync(path.join(dir, f), text, { mode: f.endsWith('.tmpl') ? 0o644 : 0o755 });
    }
    fs.writeFileSync(path.join(dir, 'LICENSE'), 'The kk lab Harbor stand-in: test fixture of the kk project, not Harbor.\n');
    await run('tar', ['--owner=0', '--group=0', '--numeric-owner', '-C', work, '-czf', `${cached}.tmp`, 'harbor']);
    fs.renameSync(`${cached}.tmp`, cached);
    fs.rmSync(work, { recursive: true, force: true });
  }
  placeArtifact(cached, `image-registry/harbor/${HARBOR_VERSION}/amd64/harbor-offline-installer-${HARBOR_VERSION}.tgz`);
  return { version: HARBOR_VERSION };
}
