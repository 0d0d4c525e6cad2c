import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { deployHarbor } from '../activities/install/harbor';
import { sha256File } from '../activities/ssh/file-hash';
import type { ExecOptions, ExecResult, HostSession } from '../activities/ssh/session';
import type { HostTarget } from '../config/hosts';
import { pendingMarker } from '../activities/install/remote';
import type { HarborNodeInput } from '../registry/types';

/**
 * deployHarbor's order on a re-run after an interrupted attempt: a host (scripted, as kk's commands find it) whose
 * Harbor owes the restart an attempt recorded after writing a new CA. Harbor serves the old certificate until prepare
 * and a restart, so curl with the new CA fails (exit 60, non-retryable) until then.
 */
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kk-harbor-order-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

class InterruptedHost implements HostSession {
  readonly target: HostTarget = { name: 'reg1', local: false, address: '10.0.0.11', port: 22, user: 'root' };
  readonly events: string[] = [];
  pending = true;
  prepared = false;
  servesNewCa = false;
  constructor(private readonly stamp: string) {}
  async exec(cmd: string, options: ExecOptions = {}): Promise<ExecResult> {
    const ok = (stdout = ''): ExecResult => ({ code: 0, stdout, stderr: '' });
    const marker = pendingMarker('harbor');
    if (cmd.includes('curl -K -')) {
      const url = /url = "([^"]+)"/.exec(String(options.stdin))![1]!;
      this.events.push(`api ${new URL(url).pathname}`);
      if (!this.servesNewCa) return { code: 60, stdout: '', stderr: 'curl: (60) SSL certificate problem: unable to get local issuer certificate' };
      const body = url.endsWith('/health') ? { status: 'healthy', components: [{ name: 'core', status: 'healthy' }] } : { user_id: 1, username: 'admin' };
      return ok(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n${JSON.stringify(body)}\n@@kk-curl-status 200`);
    }
    if (cmd.includes('.kk-extracted')) return ok(this.stamp);
    if (cmd.includes(`test -e ${marker}`)) return { code: this.pending ? 0 : 1, stdout: '', stderr: '' };
    if (cmd.includes(`rm -f ${marker}`)) {
      this.pending = false;
      return ok();
    }
    if (cmd.includes('./prepare')) {
      this.events.push('prepare');
      this.prepared = true;
      return ok();
    }
    if (cmd.includes('systemctl restart')) {
      this.events.push('restart');
      this.servesNewCa ||= this.prepared;
      return ok();
    }
    if (cmd.includes('systemctl is-active')) return ok('active\n');
    // Every file kk writes is as the interrupted attempt left it.
    if (cmd.includes('sha256sum <')) return ok('same\n');
    return ok();
  }
  upload(): never {
    throw new Error('the installer was extracted before: no upload');
  }
  close() {}
}

describe('deployHarbor after an interrupted attempt', () => {
  it('pays the owed prepare and restart before it talks to Harbor\'s API', async () => {
    fs.mkdirSync(path.join(dir, 'harbor'));
    fs.copyFileSync(path.join(__dirname, '..', 'lab', 'harbor-standin', 'installer', 'harbor.yml.tmpl'), path.join(dir, 'harbor', 'harbor.yml.tmpl'));
    const installer = path.join(dir, 'harbor-offline-installer-v2.10.1.tgz');
    execFileSync('tar', ['-C', dir, '-czf', installer, 'harbor']);
    const host = new InterruptedHost(await sha256File(installer));
    const input = {
      versions: { registry: 'v2.10.1' },
      plainHttp: false,
      harbor: { hostname: '10.0.0.11', httpPort: 80, httpsPort: 443, dataDir: '/data', adminPassword: 'Admin-Pass-1x', databasePassword: 'Db-Pass-2y', replicationSecret: 'Repl-Secret-3z' },
      pki: { serverCert: 'cert', serverKey: 'key', caCert: 'new ca' },
    } as HarborNodeInput;
    const steps = await deployHarbor(host, input, installer, () => undefined, new AbortController().signal);
    const firstApi = host.events.findIndex((e) => e.startsWith('api'));
    assert.deepEqual(host.events.slice(0, firstApi), ['prepare', 'restart'], host.events.join(', '));
    assert.ok(!host.events.some((e, i) => e.startsWith('api') && i < firstApi));
    assert.ok(host.events.includes('api /api/v2.0/users/current'), 'the admin password is checked once Harbor serves the new CA');
    assert.equal(host.pending, false, 'the owed restart is recorded as done');
    assert.equal(host.events.filter((e) => e === 'restart').length, 1, 'one restart: nothing else changed');
    assert.equal(steps.service, 'restarted');
    assert.equal(steps.password, 'skipped');
  });
});
