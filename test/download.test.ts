import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { downloadArtifact } from '../activities/artifacts/download';

/** Artifact URLs: downloaded into binary_dir with resume and a hash check, against a real HTTP server on loopback. */
const body = randomBytes(6 * 1024 * 1024);
const sha = createHash('sha256').update(body).digest('hex');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kk-dl-'));
let server: http.Server;
let base: string;
const seen: { path: string; range?: string }[] = [];
let dropAfter: number | undefined;
let publishedHash: string | undefined = sha;
/** How the server answers for the `.sha256`: normally, with this HTTP status, or by dropping the connection. */
let hashFault: number | 'drop' | undefined;

before(async () => {
  server = http.createServer((req, res) => {
    seen.push({ path: req.url!, range: req.headers.range });
    if (req.url === '/files/artifact.tgz.sha256') {
      if (hashFault === 'drop') return req.socket.destroy();
      if (hashFault !== undefined) return res.writeHead(hashFault).end();
      if (!publishedHash) return res.writeHead(404).end();
      return res.writeHead(200).end(`${publishedHash}  artifact.tgz\n`);
    }
    if (req.url !== '/files/artifact.tgz') return res.writeHead(404).end();
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = m ? Number(m[1]) : 0;
    // As real servers do: a range starting at or past the end is unsatisfiable, and says the size.
    if (start >= body.length) return res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
    const slice = body.subarray(start);
    res.writeHead(m ? 206 : 200, { 'content-length': slice.length, ...(m && { 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` }) });
    if (dropAfter !== undefined) {
      const cut = dropAfter;
      dropAfter = undefined;
      res.write(slice.subarray(0, cut), () => res.destroy());
    } else res.end(slice);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
after(() => server.close());

describe('artifact download', () => {
  it('resumes an interrupted download with a Range request, checks the published sha256, then skips', async () => {
    const dest = path.join(dir, 'kubekey', 'image-registry', 'docker-registry', '2.8.3', 'amd64', 'registry.tgz');
    dropAfter = 2 * 1024 * 1024;
    await assert.rejects(downloadArtifact(`${base}/files/artifact.tgz`, dest), (err: unknown) => err instanceof ApplicationFailure && err.type === 'SshConnectionLost' && !err.nonRetryable);
    assert.ok(!fs.existsSync(dest), 'nothing is put in place before it is complete');
    const partial = fs.statSync(`${dest}.part`).size;
    assert.ok(partial > 0 && partial < body.length);
    const r = await downloadArtifact(`${base}/files/artifact.tgz`, dest);
    assert.equal(r.resumedFrom, partial);
    assert.equal(r.bytesFetched, body.length - partial);
    assert.equal(seen.filter((s) => s.path === '/files/artifact.tgz').at(-1)!.range, `bytes=${partial}-`);
    assert.equal(createHash('sha256').update(fs.readFileSync(dest)).digest('hex'), sha);
    assert.equal(fs.readFileSync(`${dest}.sha256`, 'utf8'), `${sha}  registry.tgz\n`);
    const again = await downloadArtifact(`${base}/files/artifact.tgz`, dest);
    assert.deepEqual([again.skipped, again.bytesFetched], [true, 0]);
  });

  it('a download that does not match the published sha256 is discarded', async () => {
    publishedHash = 'f'.repeat(64);
    const dest = path.join(dir, 'corrupt', 'artifact.tgz');
    await assert.rejects(downloadArtifact(`${base}/files/artifact.tgz`, dest), (err: unknown) => err instanceof ApplicationFailure && err.type === 'UploadCorrupt' && /says f{64}/.test(err.message));
    assert.ok(!fs.existsSync(dest) && !fs.existsSync(`${dest}.part`));
    publishedHash = sha;
  });

  it('a missing file is a non-retryable failure naming the URL', async () => {
    await assert.rejects(downloadArtifact(`${base}/files/nope.tgz`, path.join(dir, 'nope.tgz')), (err: unknown) => err instanceof ApplicationFailure && err.nonRetryable && /nope\.tgz failed: HTTP 404/.test(err.message));
  });

  it('a complete .part (HTTP 416 for its Range) is verified and finished, not retried forever', async () => {
    const dest = path.join(dir, 'complete-part', 'artifact.tgz');
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.writeFileSync(`${dest}.part`, body);
    const r = await downloadArtifact(`${base}/files/artifact.tgz`, dest);
    assert.deepEqual([r.skipped, r.bytesFetched, r.resumedFrom, r.sha256], [false, 0, body.length, sha]);
    assert.equal(seen.filter((s) => s.path === '/files/artifact.tgz').at(-1)!.range, `bytes=${body.length}-`);
    assert.ok(fs.existsSync(dest) && !fs.existsSync(`${dest}.part`));
  });

  it('a complete .part with the wrong bytes is discarded by the hash check, and the retry fetches it whole', async () => {
    const dest = path.join(dir, 'wrong-part', 'artifact.tgz');
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.writeFileSync(`${dest}.part`, randomBytes(body.length));
    await assert.rejects(downloadArtifact(`${base}/files/artifact.tgz`, dest), (err: unknown) => err instanceof ApplicationFailure && err.type === 'UploadCorrupt' && !err.nonRetryable);
    assert.ok(!fs.existsSync(`${dest}.part`));
    const r = await downloadArtifact(`${base}/files/artifact.tgz`, dest);
    assert.deepEqual([r.resumedFrom, r.bytesFetched, r.sha256], [0, body.length, sha]);
  });

  it('a .part longer than the file (416) is dropped and the file fetched whole in the same call', async () => {
    const dest = path.join(dir, 'long-part', 'artifact.tgz');
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.writeFileSync(`${dest}.part`, randomBytes(body.length + 10));
    const r = await downloadArtifact(`${base}/files/artifact.tgz`, dest);
    assert.deepEqual([r.resumedFrom, r.bytesFetched, r.sha256], [0, body.length, sha]);
  });

  for (const fault of [503, 'drop'] as const) {
    it(`a .sha256 that cannot be fetched (${fault === 'drop' ? 'connection dropped' : `HTTP ${fault}`}) is a retryable failure, not "no hash"`, async () => {
      const dest = path.join(dir, `hash-${fault}`, 'artifact.tgz');
      hashFault = fault;
      try {
        await assert.rejects(downloadArtifact(`${base}/files/artifact.tgz`, dest), (err: unknown) => err instanceof ApplicationFailure && !err.nonRetryable && /artifact\.tgz\.sha256/.test(err.message));
      } finally {
        hashFault = undefined;
      }
      assert.ok(!fs.existsSync(dest) && !fs.existsSync(`${dest}.part`), 'nothing is fetched without knowing the hash');
    });
  }

  it('only a 404 for the .sha256 means no published hash', async () => {
    publishedHash = undefined;
    try {
      const dest = path.join(dir, 'no-hash', 'artifact.tgz');
      const r = await downloadArtifact(`${base}/files/artifact.tgz`, dest);
      assert.deepEqual([r.skipped, r.sha256], [false, sha]);
    } finally {
      publishedHash = sha;
    }
  });
});
