import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { leaveMesh } from '../activities/install/harbor';
import type { ExecOptions, ExecResult, HostSession } from '../activities/ssh/session';
import type { HostTarget } from '../config/hosts';
import { leaverMatches, urlHost } from '../registry/harbor/leavers';
import type { HarborNodeInput } from '../registry/types';

/** Nodes that left the Harbor mesh: which inventory host a `kk-peer-<name>` endpoint means, and a host without Harbor. */

describe('leavers matched by address, not by name alone', () => {
  it("an endpoint URL's host: names, IPv4, IPv6 in brackets, with or without a port", () => {
    assert.equal(urlHost('https://10.0.0.3:443'), '10.0.0.3');
    assert.equal(urlHost('https://[FD00::3]:8443/'), 'fd00::3');
    assert.equal(urlHost('https://reg3.example'), 'reg3.example');
    assert.equal(urlHost('not a url'), undefined);
    assert.equal(urlHost(''), undefined);
  });

  it("a leaver is cleared only where its endpoints point at the inventory host's address; a reused name is not", () => {
    const named = [
      { name: 'node3', url: 'https://10.0.0.3:443' },
      { name: 'node3', url: 'https://10.0.0.3:443/' },
      { name: 'node4', url: 'https://10.0.0.4:443' },
      { name: 'node6', url: 'https://[fd00::6]:443' },
    ];
    assert.deepEqual(leaverMatches(named, 'node3', ['10.0.0.3']).mismatched, []);
    assert.equal(leaverMatches(named, 'node3', ['10.0.0.3']).ok, true);
    // node4's name now belongs to another machine: its endpoints pointed elsewhere.
    assert.deepEqual(leaverMatches(named, 'node4', ['10.0.0.99', '192.0.2.4']), { ok: false, urls: ['https://10.0.0.4:443'], mismatched: ['https://10.0.0.4:443'] });
    // The address the mesh used may be the internal one or the SSH one.
    assert.equal(leaverMatches(named, 'node4', ['10.0.0.4', '192.0.2.4']).ok, true);
    assert.equal(leaverMatches(named, 'node6', ['[FD00::6]']).ok, true);
    assert.equal(leaverMatches(named, 'node5', ['10.0.0.5']).ok, false, 'no endpoint names it: nothing to match');
    // One endpoint pointing elsewhere is enough to refuse.
    assert.equal(leaverMatches([...named, { name: 'node3', url: 'https://10.0.0.33:443' }], 'node3', ['10.0.0.3']).ok, false);
  });
});

describe('a leaver without Harbor', () => {
  /** A host that answers the presence check with `code`, and on which any other command (curl to Harbor) fails the test. */
  class Host implements HostSession {
    readonly target: HostTarget = { name: 'node3', local: false, address: '10.0.0.3', port: 22, user: 'root' };
    readonly commands: string[] = [];
    constructor(private readonly code: number) {}
    async exec(cmd: string, _options?: ExecOptions): Promise<ExecResult> {
      this.commands.push(cmd);
      if (cmd.includes('.kk-extracted')) return { code: this.code, stdout: '', stderr: '' };
      return { code: 7, stdout: '', stderr: 'curl: (7) Failed to connect to 127.0.0.1 port 443: Connection refused' };
    }
    upload(): never {
      throw new Error('no uploads here');
    }
    close() {}
  }
  const input = { versions: { registry: 'v2.10.1' }, plainHttp: false, harbor: { httpsPort: 443, httpPort: 80, adminPassword: 'Admin-Pass-1x' } } as HarborNodeInput;

  it('is cleared already when neither harbor.service nor an installer kk extracted is there (kk delete registry ran)', async () => {
    const host = new Host(1);
    assert.deepEqual(await leaveMesh(host, input, new AbortController().signal), []);
    assert.equal(host.commands.length, 1, 'Harbor\'s API is not asked');
    assert.match(host.commands[0]!, /\/etc\/systemd\/system\/harbor\.service .*\/opt\/harbor\/\*\/\.kk-extracted/);
  });

  it("with kk's Harbor there but not answering, the failure stands (its push policies may run again)", async () => {
    await assert.rejects(leaveMesh(new Host(0), input, new AbortController().signal), /Connection refused/);
  });
});
