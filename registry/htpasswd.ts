import * as fs from 'node:fs';
import * as path from 'node:path';
import bcrypt from 'bcryptjs';
import { secretsDir } from '../config/secrets';

/**
 * The registry's htpasswd line for the configured user (bcrypt, the only scheme distribution accepts). bcrypt salts
 * each hash, so the line is kept 0600 in the work dir and reused while it still matches the user and password:
 * re-runs then write the same file and restart nothing; a changed password gives a new line (and one restart).
 */
export function registryHtpasswd(workdir: string, username: string, password: string): string {
  const file = path.join(secretsDir(workdir), 'docker_registry_htpasswd');
  const kept = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim() : '';
  const [user, hash] = [kept.slice(0, kept.indexOf(':')), kept.slice(kept.indexOf(':') + 1)];
  if (kept && user === username && bcrypt.compareSync(password, hash)) return `${kept}\n`;
  const line = `${username}:${bcrypt.hashSync(password, 10)}`;
  fs.writeFileSync(`${file}.tmp`, line, { mode: 0o600 });
  fs.renameSync(`${file}.tmp`, file);
  return `${line}\n`;
}
