import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ARTIFACT_CACHE, contentKey, debianPackage } from './artifacts/common';
import { docker, dockerOk } from './docker-engine';
import { goBinary, goBuildEnv } from './go';
import type { LabFile } from './lab-file';
import { CACHE_DIR, LAB_LABEL, LAB_NAME, NETWORK, S3_ADDRESS } from './paths';
import { log, run, sleep } from './process';

/** The lab's S3-compatible store for shared-storage HA: versitygw (Apache-2.0) built from its Go module. */
const VERSITYGW = 'github.com/versity/versitygw/cmd/versitygw@v1.8.0';
const CONTAINER = `${LAB_NAME}-s3`;
const PORT = 9000;
export const S3_BUCKET = 'registry';

async function versitygwBinary(): Promise<string> {
  const bin = path.join(ARTIFACT_CACHE, 'versitygw-v1.8.0');
  if (fs.existsSync(bin)) return bin;
  log('building versitygw from its Go module (about a minute, once)');
  const gobin = path.join(CACHE_DIR, 'go', 'bin');
  await run(goBinary(), ['install', '-trimpath', '-ldflags', '-s -w', VERSITYGW], { env: goBuildEnv({ GOBIN: gobin }) });
  fs.copyFileSync(path.join(gobin, 'versitygw'), bin);
  fs.chmodSync(bin, 0o755);
  return bin;
}

async function s3Image(): Promise<string> {
  const bin = await versitygwBinary();
  const busybox = await debianPackage('busybox-static');
  const tag = `kk-lab-s3:${contentKey([fs.statSync(bin).size, 'v1'])}`;
  if (await dockerOk(['image', 'inspect', tag])) return tag;
  const root = path.join(CACHE_DIR, 'build', 's3-root');
  fs.rmSync(root, { recursive: true, force: true });
  fs.mkdirSync(path.join(root, 'bin'), { recursive: true });
  fs.copyFileSync(bin, path.join(root, 'bin/versitygw'));
  fs.copyFileSync(path.join(busybox.dir, 'bin/busybox'), path.join(root, 'bin/busybox'));
  for (const a of ['sh', 'mkdir', 'ls']) fs.symlinkSync('busybox', path.join(root, 'bin', a));
  for (const d of ['data', 'tmp']) fs.mkdirSync(path.join(root, d), { recursive: true, mode: 0o1777 });
  const tar = `${root}.tar`;
  await run('tar', ['--owner=0', '--group=0', '--numeric-owner', '-C', root, '-cf', tar, '.']);
  await docker(['import', '--change', 'ENV PATH=/bin', tar, tag]);
  fs.rmSync(tar, { force: true });
  fs.rmSync(root, { recursive: true, force: true });
  return tag;
}

/** Kept beside the store (machine-wide, like its container), so every checkout using the lab gets the same keys. */
function credentials(): { accesskey: string; secretkey: string } {
  const file = path.join(CACHE_DIR, 's3-credentials.json');
  if (!fs.existsSync(file)) fs.writeFileSync(file, JSON.stringify({ accesskey: `kklab${randomBytes(6).toString('hex')}`, secretkey: randomBytes(24).toString('base64url') }), { mode: 0o600 });
  return JSON.parse(fs.readFileSync(file, 'utf8')) as { accesskey: string; secretkey: string };
}

/** Starts (or keeps) the store at a fixed lab address, with one bucket; returns what lab.json says of it. */
export async function ensureS3(): Promise<NonNullable<LabFile['s3']>> {
  const image = await s3Image();
  const { accesskey, secretkey } = credentials();
  const running = (await docker(['inspect', '--format', '{{.State.Running}} {{.Config.Image}} {{json .Config.Env}}', CONTAINER]).catch(() => '')).trim();
  const sameKeys = running.includes(`"ROOT_ACCESS_KEY=${accesskey}"`) && running.includes(`"ROOT_SECRET_KEY=${secretkey}"`);
  if (!running.startsWith(`true ${image} `) || !sameKeys) {
    await docker(['rm', '-f', CONTAINER]).catch(() => undefined);
    await docker([
      'run', '-d', '--name', CONTAINER, '--label', LAB_LABEL, '--network', NETWORK, '--ip', S3_ADDRESS,
      '-e', `ROOT_ACCESS_KEY=${accesskey}`, '-e', `ROOT_SECRET_KEY=${secretkey}`,
      image, 'sh', '-c', `mkdir -p /data/${S3_BUCKET} && exec versitygw --port :${PORT} posix /data`,
    ]);
  }
  const endpoint = `http://${S3_ADDRESS}:${PORT}`;
  for (let i = 0; i < 60; i++) {
    if (await fetch(endpoint).then(() => true, () => false)) return { endpoint, bucket: S3_BUCKET, region: 'us-east-1', accesskey, secretkey };
    await sleep(250);
  }
  throw new Error(`the lab S3 store does not answer on ${endpoint}: ${await docker(['logs', '--tail', '20', CONTAINER]).catch((e: Error) => e.message)}`);
}
