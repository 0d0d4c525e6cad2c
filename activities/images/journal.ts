import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Blob uploads under way, remembered on the machine running kk (0700 dir, 0600 files): the registry's upload
 * session (its Location) for one blob of one repository. A push killed in the middle of a big blob leaves its entry;
 * the retry asks the registry how much of the session it holds and sends only the rest. Written after every chunk,
 * because heartbeat details reach the server only every few seconds and a killed process flushes nothing.
 */
export interface UploadEntry {
  address: string;
  repository: string;
  digest: string;
  /** The session's latest Location (path and query). */
  location: string;
  /** Bytes the registry acknowledged. */
  offset: number;
}

export class UploadJournal {
  constructor(private readonly dir: string) {}

  private file(address: string, repository: string, digest: string): string {
    return path.join(this.dir, `${createHash('sha256').update(`${address}\n${repository}\n${digest}`).digest('hex').slice(0, 32)}.json`);
  }

  read(address: string, repository: string, digest: string): UploadEntry | undefined {
    try {
      const e = JSON.parse(fs.readFileSync(this.file(address, repository, digest), 'utf8')) as UploadEntry;
      return e.address === address && e.repository === repository && e.digest === digest ? e : undefined;
    } catch {
      return undefined;
    }
  }

  write(entry: UploadEntry): void {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const file = this.file(entry.address, entry.repository, entry.digest);
    fs.writeFileSync(`${file}.tmp`, JSON.stringify(entry), { mode: 0o600 });
    fs.renameSync(`${file}.tmp`, file);
  }

  remove(address: string, repository: string, digest: string): void {
    fs.rmSync(this.file(address, repository, digest), { force: true });
  }

  /** Entries present (tests and `kk status` look at uploads under way). */
  entries(): UploadEntry[] {
    if (!fs.existsSync(this.dir)) return [];
    return fs
      .readdirSync(this.dir)
      .filter((f) => f.endsWith('.json'))
      .flatMap((f) => {
        try {
          return [JSON.parse(fs.readFileSync(path.join(this.dir, f), 'utf8')) as UploadEntry];
        } catch {
          return [];
        }
      });
  }
}
