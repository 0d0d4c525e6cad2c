import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { debianMirror } from '../lab/node-image';

/** The lab's node image takes its Debian mirror from this machine's apt configuration only (no built-in host). */
function aptDir(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kk-apt-'));
  fs.mkdirSync(path.join(dir, 'sources.list.d'));
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}

describe('lab mirror from apt configuration', () => {
  it('deb822 .sources: the stanza carrying the suite, past comments, disabled stanzas and security', () => {
    const dir = aptDir({
      'sources.list.d/a-security.sources': 'Types: deb\nURIs: http://security.example/debian-security\nSuites: bookworm-security\nComponents: main\n',
      'sources.list.d/b-off.sources': 'Enabled: no\nTypes: deb\nURIs: http://off.example/debian\nSuites: bookworm\n',
      'sources.list.d/debian.sources':
        'Types: deb\n# a snapshot, commented out\nURIs: http://apt.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n URIs: http://not-a-field.example\n',
      'sources.list.d/other.sources.disabled': 'Types: deb\nURIs: http://ignored.example/debian\nSuites: bookworm\n',
    });
    assert.equal(debianMirror(dir), 'http://apt.example/debian');
  });

  it('one-line sources.list and *.list, with options in brackets; deb-src and comments ignored', () => {
    const dir = aptDir({
      'sources.list': '# deb http://commented.example/debian bookworm main\ndeb-src http://src.example/debian bookworm main\n',
      'sources.list.d/mirror.list': 'deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] https://list.example/debian bookworm main contrib\n',
    });
    assert.equal(debianMirror(dir), 'https://list.example/debian');
  });

  it('with no usable source it fails, naming the files it read and what to add', () => {
    const dir = aptDir({ 'sources.list': 'deb cdrom:[Debian]/ bookworm main\n' });
    assert.throws(() => debianMirror(dir), /no Debian mirror in this machine's apt configuration \(.*sources\.list\).*deb <mirror> bookworm main/);
    assert.throws(() => debianMirror(aptDir({})), /no Debian mirror/);
  });

  it('the lab names no mirror host of its own', () => {
    const text = fs.readFileSync(path.join(__dirname, '..', 'lab', 'node-image.ts'), 'utf8');
    assert.doesNotMatch(text, /https?:\/\/[a-z0-9.-]+\.(org|com|net|io)\b/i);
  });
});
