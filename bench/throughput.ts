import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { KnownHosts } from '../activities/ssh/known-hosts';
import type { LabNode } from '../lab/nodes';
import { labSsh } from '../test/support/lab';
import { ssh } from './baseline';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

/**
 * Upload throughput of kk's SSH layer (SshConnection.upload: local sha256, staging over SFTP, remote sha256, move into
 * place as root, sha256 again) against `ssh HOST 'cat > FILE' < FILE` on the same link, alternating, `rounds` each;
 * medians in bytes/s. `writeOnly` is the SFTP transfer alone (first to last acknowledged write).
 */
export async function uploadThroughput(node: LabNode, scratch: string, bytes: number, rounds: number): Promise<{ bytes: number; kk: number; kkWriteOnly: number; cat: number }> {
  const file = path.join(scratch, 'throughput.bin');
  spawnSync('sh', ['-c', 'head -c "$1" /dev/urandom > "$2"', 'sh', String(bytes), file]);
  const conn = await labSsh(node, new KnownHosts(path.join(scratch, 'known_hosts.throughput')));
  const kk: number[] = [];
  const writeOnly: number[] = [];
  const cat: number[] = [];
  try {
    for (let i = 0; i < rounds; i++) {
      await conn.exec('rm -rf /root/bench-kk.bin /root/bench-cat.bin /root/.kk-staging');
      // A fresh file each round: the layer remembers a local file's hash (a new mtime makes it hash again).
      fs.utimesSync(file, new Date(), new Date(Date.now() + i * 1000));
      let t0 = 0;
      let t1 = 0;
      const start = performance.now();
      await conn.upload(file, '/root/bench-kk.bin', {
        onProgress: (o) => {
          t0 ||= performance.now();
          if (o >= bytes) t1 = performance.now();
        },
      });
      kk.push(bytes / ((performance.now() - start) / 1000));
      if (t1 > t0) writeOnly.push(bytes / ((t1 - t0) / 1000));
      const c0 = performance.now();
      await ssh(node.address, 'cat > /root/bench-cat.bin', { file });
      cat.push(bytes / ((performance.now() - c0) / 1000));
    }
    await conn.exec('rm -rf /root/bench-kk.bin /root/bench-cat.bin /root/.kk-staging');
  } finally {
    conn.close();
    fs.rmSync(file, { force: true });
  }
  return { bytes, kk: median(kk), kkWriteOnly: writeOnly.length ? median(writeOnly) : 0, cat: median(cat) };
}

/** `kk config` and `kk --help` from dist/: medians (ms) from scripts/cli-start.sh, which the project uses for this. */
export function cliStart(runs: number): { config: number; help: number; output: string } {
  const r = spawnSync('bash', [path.resolve(__dirname, '..', 'scripts', 'cli-start.sh'), String(runs)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`scripts/cli-start.sh failed: ${r.stderr}`);
  const get = (label: string) => Number(new RegExp(`^${label}\\s+dist\\s+median\\s+(\\d+) ms`, 'm').exec(r.stdout)?.[1]);
  return { config: get('kk config'), help: get('kk --help'), output: r.stdout };
}
