import { randomBytes } from 'node:crypto';
import { describeHost } from '../../config/hosts';
import { hostFailure } from '../ssh/errors';
import { sh } from '../ssh/quote';
import type { HostSession } from '../ssh/session';
import { mustRun } from './remote';

export const VERIFY_REPOSITORY = 'kk-verify/probe';

/**
 * Pushes a small, fresh image through the endpoint from one node, using the CA the node trusts (no insecure flag).
 * A fresh layer each time, so every pull afterwards really comes from the registry.
 */
export async function pushProbe(session: HostSession, endpoint: string, signal: AbortSignal): Promise<string> {
  const image = `${endpoint}/${VERIFY_REPOSITORY}:latest`;
  const nonce = randomBytes(8).toString('hex');
  await mustRun(
    session,
    sh`d=$(mktemp -d) && printf '%s\\n' ${`kk registry verification ${nonce}`} > "$d/probe" && tar -C "$d" -cf - probe | docker import - ${image} >/dev/null && rm -rf "$d" && docker push ${image} >/dev/null && docker image inspect --format '{{index .RepoDigests 0}}' ${image} && docker rmi ${image} >/dev/null`,
    `pushing ${image}`,
    { timeoutMs: 300_000, signal },
  ).then((r) => {
    const digest = r.stdout.trim();
    if (!digest.includes('@sha256:')) throw hostFailure('SshConnectionLost', `${describeHost(session.target)}: push of ${image} gave no digest`);
  });
  return image;
}

/** Pulls the probe on a node through the endpoint and removes it again. */
export async function pullProbe(session: HostSession, image: string, signal: AbortSignal): Promise<void> {
  await mustRun(session, sh`docker pull ${image} >/dev/null && docker rmi ${image} >/dev/null`, `pulling ${image}`, { timeoutMs: 300_000, signal });
}
