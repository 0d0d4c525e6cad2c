import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { runsTable, statusText } from '../cli/commands/runs';
import { age, table } from '../cli/format';
import { AesGcmCodec } from '../runtime/codec';
import { startCodecServer, type CodecServer } from '../runtime/codec-server';
import { alive, type DevServerInfo } from '../runtime/dev-server';
import { MASK, maskSecrets } from '../runtime/mask-secrets';
import { activitySummary, hostOfNodeWorkflowId } from '../workflows/steps';
import { kk, waitFor } from './support/kk';

/** The operator's tools besides the browser: secret masking, the codec endpoint, the CLI's parser, the server's idle stop. */
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kk-op-'));

describe('secret masking (what the codec endpoint hands the UI)', () => {
  const pem = `-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA${'x'.repeat(60)}\n-----END OPENSSH PRIVATE KEY-----\n`;
  const input = {
    host: { name: 'node1', local: false, address: '10.0.0.1', port: 22, user: 'ops', password: 'hunter2-pw', privateKey: pem, passphrase: 'open-sesame' },
    pki: { caCert: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n', serverCert: 'cert', serverKey: '-----BEGIN PRIVATE KEY-----\nMIIEv\n-----END PRIVATE KEY-----\n' },
    credentials: { username: 'admin', password: 'reg-pass-123' },
    htpasswd: 'admin:$2y$10$abcdefghijklmnopqrstuv',
    registryConfig: 'version: 0.1\nhttp:\n  secret: http-secret-value\nstorage:\n  s3:\n    accesskey: AKIAEXAMPLE\n    secretkey: s3-secret-key\n  azure:\n    accountkey: azure-account-key\n',
    gcsKeyfile: { path: '/etc/registry/gcs.json', content: '{"private_key": "gcs-key"}' },
    harbor: { adminPassword: 'harbor-admin', databasePassword: 'db-pw-9', replicationSecret: 'robot-secret' },
    ha: { vip: '10.0.0.100', authPass: 'vrrp-pw', virtualRouterId: 51 },
    s3: { endpoint: 'http://s3', bucket: 'registry', accesskey: 'AKIAEXAMPLE', secretkey: 's3-secret-key' },
    robot: { credential: { access_key: 'robot$r', access_secret: 'robot-secret-2' } },
    apiToken: 'tok-123456',
    message: 'sudo refused for ops (password hunter2-pw was sent on stdin)',
  };
  const masked = maskSecrets(input) as typeof input;
  const text = JSON.stringify(masked);

  it('masks every secret field, recursively, and keeps the plan readable', () => {
    for (const secret of ['hunter2-pw', 'open-sesame', 'b3BlbnNzaC1rZXktdjE', 'MIIEv', 'reg-pass-123', '$2y$10$', 'http-secret-value', 'AKIAEXAMPLE', 's3-secret-key', 'azure-account-key', 'gcs-key', 'harbor-admin', 'db-pw-9', 'robot-secret', 'vrrp-pw', 'tok-123456']) {
      assert.ok(!text.includes(secret), `${secret} is visible: ${text}`);
    }
    assert.equal(masked.host.password, MASK);
    assert.equal(masked.host.user, 'ops');
    assert.equal(masked.host.address, '10.0.0.1');
    assert.equal(masked.pki.caCert, input.pki.caCert, 'certificates are public');
    assert.equal(masked.ha.vip, '10.0.0.100');
    assert.equal(masked.ha.virtualRouterId, 51);
    assert.equal(masked.s3.bucket, 'registry');
    assert.match(masked.registryConfig, /^ {4}secretkey: ••••••$/m, 'rendered documents keep their shape');
    assert.match(masked.registryConfig, /^version: 0\.1$/m);
    assert.equal(masked.message, `sudo refused for ops (password ${MASK} was sent on stdin)`, 'a secret quoted elsewhere is cut out');
  });

  it('leaves payloads without secrets as they are', () => {
    const facts = { host: 'node1', facts: { os: { family: 'deb' }, cpus: 2, filesystems: [{ mount: '/', freeMb: 10 }] } };
    assert.deepEqual(maskSecrets(facts), facts);
  });
});

describe('codec endpoint', () => {
  const key = randomBytes(32);
  const codec = new AesGcmCodec(key);
  const uiOrigin = 'http://127.0.0.1:18233';
  let server: CodecServer;
  after(() => server?.close());
  const b64 = (s: string | Uint8Array) => Buffer.from(s).toString('base64');
  const post = (route: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${route}`, { method: 'POST', headers: { 'Content-Type': 'application/json', Origin: uiOrigin, 'X-Namespace': 'default', ...headers }, body: JSON.stringify(body) });

  it('decodes kk payloads for the UI with secrets masked, answers CORS for the UI origin only, and encodes', async () => {
    server = await startCodecServer({ key, uiOrigins: [uiOrigin] });
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const [encrypted] = await codec.encode([{ metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from(JSON.stringify({ name: 'web1', password: 'pw-secret-1' })) }]);
    const plain = { metadata: { encoding: b64('json/plain') }, data: b64('"not encrypted"') };
    const res = await post('/decode', { payloads: [{ metadata: Object.fromEntries(Object.entries(encrypted!.metadata!).map(([k, v]) => [k, b64(v)])), data: b64(encrypted!.data!) }, plain] });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), uiOrigin);
    const { payloads } = (await res.json()) as { payloads: { metadata: Record<string, string>; data: string }[] };
    assert.deepEqual(JSON.parse(Buffer.from(payloads[0]!.data, 'base64').toString()), { name: 'web1', password: MASK });
    assert.equal(Buffer.from(payloads[0]!.metadata.encoding!, 'base64').toString(), 'json/plain');
    assert.deepEqual(payloads[1], plain, 'a payload kk did not encrypt comes back as it was');

    const preflight = await fetch(`${server.url}/decode`, { method: 'OPTIONS', headers: { Origin: uiOrigin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type,x-namespace' } });
    assert.equal(preflight.status, 204);
    assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /X-Namespace/i);

    const encoded = (await (await post('/encode', { payloads: [plain] })).json()) as { payloads: { metadata: Record<string, string>; data: string }[] };
    const [back] = await codec.decode([{ metadata: Object.fromEntries(Object.entries(encoded.payloads[0]!.metadata).map(([k, v]) => [k, Buffer.from(v, 'base64')])), data: Buffer.from(encoded.payloads[0]!.data, 'base64') }]);
    assert.equal(Buffer.from(back!.data!).toString(), '"not encrypted"');
  });

  it('refuses other origins and other Host names (DNS rebinding), and listens on loopback only', async () => {
    const other = await post('/decode', { payloads: [] }, { Origin: 'http://evil.example' });
    assert.equal(other.status, 403);
    assert.equal(other.headers.get('access-control-allow-origin'), null);
    // fetch will not send another Host: a raw request, as a rebinding page's would arrive.
    const rebound = await new Promise<number>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: server.port, path: '/decode', method: 'POST', headers: { Host: `evil.example:${server.port}`, 'Content-Type': 'application/json' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end('{"payloads":[]}');
    });
    assert.equal(rebound, 421);
    assert.equal((server.server.address() as { address: string }).address, '127.0.0.1');
  });
});

describe('kk command line', () => {
  it('kk <command> --help lists the command’s own flags; every command has one', async () => {
    const r = await kk(['facts', '--help']);
    assert.equal(r.code, 0, r.stderr);
    for (const flag of ['-i, --inventory', '-c, --config', '--set', '-w, --workdir', '-o, --output']) assert.ok(r.stdout.includes(flag), `${flag} missing:\n${r.stdout}`);
    for (const command of ['config', 'precheck', 'init', 'runs', 'status', 'resume', 'cancel', 'server', 'worker', 'completion']) {
      const h = await kk([command, '--help']);
      assert.equal(h.code, 0, `${command}: ${h.stderr}`);
      assert.match(h.stdout, new RegExp(`^Usage: kk ${command}`));
    }
    assert.match((await kk(['worker', '--help'])).stdout, /--local-host <name>/);
    assert.match((await kk(['status', '--help'])).stdout, /--watch/);
  });

  it('refuses an unknown flag with the nearest one, as one error line, exit 2', async () => {
    const r = await kk(['facts', '--inventroy', 'x.yaml']);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, "error: unknown option '--inventroy'; Did you mean --inventory?\n");
    const bad = await kk(['runs', '--output', 'yaml']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^error: option '-o, --output <format>' argument 'yaml' is invalid/);
    const noHosts = await kk(['delete', 'registry', '--workdir', path.join(dir, 'work-delete')]);
    assert.equal(noHosts.code, 2);
    assert.match(noHosts.stderr, /^error: spec\.groups\.image_registry: no hosts/);
    assert.equal((await kk([])).code, 2);
  });

  it('prints a bash completion script that bash accepts and that completes commands and flags', async () => {
    const r = await kk(['completion', 'bash']);
    assert.equal(r.code, 0, r.stderr);
    const file = path.join(dir, 'kk.bash');
    fs.writeFileSync(file, r.stdout);
    const complete = (line: string) => {
      const words = line.split(' ');
      return execFileSync('bash', ['-c', `source ${file}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _kk; echo "\${COMPREPLY[*]}"`]).toString().trim();
    };
    assert.equal(complete('kk fa'), 'facts');
    assert.equal(complete('kk facts --inv'), '--inventory');
    assert.equal(complete('kk precheck image'), 'image_registry');
    assert.equal(complete('kk runs --output j'), 'json');
  });
});

describe('runs as a table', () => {
  it('reads like kubectl get: headers, aligned columns, age in one unit', () => {
    const now = Date.parse('2026-01-01T12:00:00Z');
    const text = runsTable(
      [
        { workflowId: 'kk-init-registry-lab-1234abcd', type: 'initRegistryWorkflow', status: 'running', startTime: new Date(now - 5 * 60_000), hosts: ['node1', 'node2'], phase: 'install-nodes' },
        { workflowId: 'kk-facts-lab-99', type: 'factsWorkflow', status: 'completed', startTime: new Date(now - 3 * 86400_000), hosts: [], phase: undefined },
      ],
      now,
    );
    assert.equal(
      text,
      'RUN                             STATE       AGE   HOSTS         PHASE\n' +
        'kk-init-registry-lab-1234abcd   running     5m    node1,node2   install-nodes\n' +
        'kk-facts-lab-99                 completed   3d    -             -\n',
    );
    assert.equal(age(new Date(now - 45_000), now), '45s');
    assert.equal(table(['A', 'B'], [['x', 'y']]), 'A   B\nx   y\n');
  });

  it('kk status: the run with its hosts, then a row per host, or per image for a push', () => {
    const run = { run: 'kk-artifact-images-lab-1', status: 'running', age: '2m', phase: null };
    const push = statusText({
      ...run,
      hostNames: ['node1', 'node2'],
      rows: 'images',
      hosts: [
        { host: 'docker.io/library/kk-hello:1.0', status: 'done' },
        { host: 'docker.io/kubesphere/kk-padded:v1', status: 'running', step: 'pushImage', attempt: 2, elapsedMs: 3000 },
      ],
    });
    const lines = push.split('\n');
    // The run's row names its registry hosts; the images have rows of their own under IMAGE.
    assert.match(lines[1]!, /^kk-artifact-images-lab-1 +running +2m +node1,node2 +-$/);
    assert.match(lines[3]!, /^IMAGE +STATE +STEP +ELAPSED +RETRIES +DETAIL$/);
    assert.match(lines[4]!, /^docker\.io\/library\/kk-hello:1\.0 +done +- +- +0$/);
    assert.match(lines[5]!, /^docker\.io\/kubesphere\/kk-padded:v1 +running +push image +3s +1$/);
    const init = statusText({ ...run, hostNames: ['node1'], rows: 'hosts', hosts: [{ host: 'node1', status: 'running', step: 'installDocker' }] });
    assert.match(init, /\nHOST +STATE +STEP/);
  });

  it('names each step with its host, as the UI shows it', () => {
    const host = { name: 'node1', local: false, address: '10.0.0.1', port: 22, user: 'root' };
    assert.equal(activitySummary('installDocker', [{ host, type: 'docker-registry' }, 'amd64']), 'install Docker on node1');
    assert.equal(activitySummary('gatherFacts', [host]), 'gather facts on node1');
    assert.equal(activitySummary('findVipHolder', [[host, { ...host, name: 'node2' }], '10.0.0.100']), 'find the VIP holder on node1, node2');
    assert.equal(activitySummary('checkArtifacts', [[{ name: 'docker', path: '/x' }]]), 'check artifacts');
    assert.equal(hostOfNodeWorkflowId('kk-facts-x/precheck/node/web1'), 'web1');
  });
});

describe('the embedded server', () => {
  const workdir = path.join(dir, 'idle');
  after(() => kk(['server', 'stop', '--workdir', workdir]));

  it('starts with its codec endpoint, says so in kk server status, and stops by itself once idle (not while a command is attached)', async () => {
    const env = { KK_SERVER_IDLE_MINUTES: '0.05' };
    const start = await kk(['server', 'start', '--workdir', workdir], env);
    assert.equal(start.code, 0, start.stderr);
    assert.match(start.stdout, /UI http:\/\/127\.0\.0\.1:\d+ {2}codec http:\/\/127\.0\.0\.1:\d+/);
    const info = JSON.parse(fs.readFileSync(path.join(workdir, 'temporal', 'server.json'), 'utf8')) as DevServerInfo;
    // A kk command attached (this test's own pid stands for it): the server stays past its idle time.
    const lease = path.join(workdir, 'temporal', 'clients', String(process.pid));
    fs.mkdirSync(path.dirname(lease), { recursive: true });
    fs.writeFileSync(lease, '');
    const status = JSON.parse((await kk(['server', 'status', '--workdir', workdir, '--output', 'json'])).stdout) as { running: boolean; openRuns: number; since: string; codecUrl: string };
    assert.equal(status.running, true);
    assert.equal(status.openRuns, 0);
    assert.equal(status.codecUrl, info.codecUrl);
    assert.ok(Date.parse(status.since) <= Date.now());
    assert.match((await kk(['server', 'status', '--workdir', workdir])).stdout, /^running since .*\nTemporal .* codec http.*\nopen runs: 0\nidle stop: after 0\.05 minutes/);
    await new Promise((r) => setTimeout(r, 8000));
    assert.ok(alive(info.pid) && info.serverPid && alive(info.serverPid), 'stopped while a command was attached');

    fs.rmSync(lease);
    await waitFor('the idle stop', async () => !alive(info.pid) && !alive(info.serverPid!) && !fs.existsSync(path.join(workdir, 'temporal', 'server.json')), 30_000);
    const codecGone = await fetch(`${info.codecUrl}/decode`, { method: 'POST', body: '{}' }).then(() => false, () => true);
    assert.ok(codecGone, 'the codec endpoint stopped with the server');
    assert.match((await kk(['server', 'status', '--workdir', workdir])).stdout, /^not running \(the next kk command/);
  });
});
