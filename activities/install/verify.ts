import { randomBytes } from 'node:crypto';
import { describeHost } from '../../config/hosts';
import { hostFailure } from '../ssh/errors';
import { command, sh } from '../ssh/quote';
import type { HostSession } from '../ssh/session';
import { asRoot, mustRun } from './remote';

export { VERIFY_REPOSITORY } from '../../registry/verify';
import { VERIFY_REPOSITORY } from '../../registry/verify';

export interface RegistryCredentials {
  username: string;
  password: string;
}

/**
 * Runs `body` logged in to the registry (password on docker login's stdin, never on a command line) and logs out
 * afterwards, so no credential is left in root's docker config by verification.
 */
async function withLogin<T>(session: HostSession, endpoint: string, credentials: RegistryCredentials | undefined, signal: AbortSignal, body: () => Promise<T>): Promise<T> {
  if (!credentials) return body();
  await mustRun(session, command('docker', 'login', '--username', credentials.username, '--password-stdin', endpoint), `logging in to ${endpoint}`, {
    stdin: credentials.password,
    timeoutMs: 60_000,
    signal,
    transient: true,
  });
  try {
    return await body();
  } finally {
    await asRoot(session, command('docker', 'logout', endpoint), { timeoutMs: 30_000 });
  }
}

/** The probe as pushed: its tag reference, and the manifest digest this push made (the tag is reused run after run). */
export interface PushedProbe {
  image: string;
  digest: string;
}

/**
 * Pushes a small, fresh image through the endpoint from one node, using the CA the node trusts (no insecure flag).
 * A fresh layer each time, so every pull afterwards really comes from the registry.
 */
export async function pushProbe(session: HostSession, endpoint: string, credentials: RegistryCredentials | undefined, signal: AbortSignal): Promise<PushedProbe> {
  const image = `${endpoint}/${VERIFY_REPOSITORY}:latest`;
  const nonce = randomBytes(8).toString('hex');
  const r = await withLogin(session, endpoint, credentials, signal, () =>
    mustRun(
      session,
      sh`d=$(mktemp -d) && printf '%s\\n' ${`kk registry verification ${nonce}`} > "$d/probe" && tar -C "$d" -cf - probe | docker import - ${image} >/dev/null && rm -rf "$d" && docker push ${image} >/dev/null && docker image inspect --format '{{index .RepoDigests 0}}' ${image} && docker rmi ${image} >/dev/null`,
      `pushing ${image}`,
      { timeoutMs: 300_000, signal, transient: true },
    ),
  );
  const digest = /@(sha256:[0-9a-f]{64})\s*$/.exec(r.stdout.trim())?.[1];
  if (!digest) throw hostFailure('NotReady', `${describeHost(session.target)}: push of ${image} gave no digest`);
  return { image, digest };
}

/** Pulls the probe on a node through the endpoint and removes it again. */
export async function pullProbe(session: HostSession, image: string, credentials: RegistryCredentials | undefined, signal: AbortSignal): Promise<void> {
  const endpoint = image.slice(0, image.indexOf('/'));
  await withLogin(session, endpoint, credentials, signal, () =>
    mustRun(session, sh`docker pull ${image} >/dev/null && docker rmi ${image} >/dev/null`, `pulling ${image}`, { timeoutMs: 300_000, signal, transient: true }),
  );
}
