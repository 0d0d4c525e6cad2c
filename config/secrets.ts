import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Secret files kk keeps for itself live here, 0700, each file 0600. */
export function secretsDir(workdir: string): string {
  const dir = path.join(workdir, 'secrets');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/** Reads a secret file, or creates it once with the generated value (atomically, so concurrent callers agree). */
export function readOrCreateSecret(workdir: string, name: string, generate: () => string): { value: string; file: string } {
  const file = path.join(secretsDir(workdir), name);
  try {
    fs.writeFileSync(file, generate(), { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return { value: fs.readFileSync(file, 'utf8').trim(), file };
}

/** No default passwords: an unset registry admin password is generated once and kept in the work dir. */
export function ensureRegistryPassword(workdir: string): { password: string; file: string } {
  // Harbor requires upper, lower and digit characters; base64url of 18 random bytes plus a fixed suffix always has them.
  const { value, file } = readOrCreateSecret(workdir, 'image_registry_admin_password', () => `${randomBytes(18).toString('base64url')}Aa1`);
  return { password: value, file };
}
