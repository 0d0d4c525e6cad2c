import { composeUnit, KEEPALIVED_DIR, keepalivedCompose, keepalivedConf, type KeepalivedSettings } from '../../registry/render';
import { command, sh } from '../ssh/quote';
import type { HostSession } from '../ssh/session';
import { ensureImage, mustRun, putFile, waitAnswers } from './remote';

export const KEEPALIVED_UNIT = 'kk-keepalived.service';

/** keepalived for the registry VIP on one node: image, config, compose file and its own unit; restarted only on change. */
export async function deployKeepalived(
  session: HostSession,
  settings: KeepalivedSettings,
  caCert: string,
  imageTarball: string,
  onProgress: (o: number, t: number) => void,
  signal: AbortSignal,
): Promise<Record<string, string>> {
  const dir = `${KEEPALIVED_DIR}/${settings.version}`;
  const steps: Record<string, string> = {};
  const image = await ensureImage(session, imageTarball, `${dir}/keepalived-${settings.version}.tgz`, `osixia/keepalived:${settings.version}`, onProgress, signal);
  steps.image = image.loaded ? 'loaded' : 'skipped';
  const changed = [
    await putFile(session, `${dir}/keepalived.conf`, keepalivedConf(settings), 0o600),
    await putFile(session, `${dir}/ca.crt`, caCert),
    await putFile(session, `${dir}/docker-compose.yml`, keepalivedCompose(settings.version, dir)),
  ].some(Boolean);
  const unitChanged = await putFile(session, `/etc/systemd/system/${KEEPALIVED_UNIT}`, composeUnit('keepalived for the registry VIP (installed by kk)', 'kk-keepalived', `${dir}/docker-compose.yml`));
  if (unitChanged) await mustRun(session, 'systemctl daemon-reload', 'systemctl daemon-reload');
  const active = (await session.exec(command('systemctl', 'is-active', KEEPALIVED_UNIT), { sudo: true })).stdout.trim() === 'active';
  steps.config = changed || unitChanged ? 'updated' : 'skipped';
  if (changed || unitChanged || image.loaded || !active) {
    await mustRun(session, `systemctl enable ${KEEPALIVED_UNIT} && systemctl restart ${KEEPALIVED_UNIT}`, 'starting keepalived', { timeoutMs: 120_000, signal });
    steps.service = active ? 'restarted' : 'started';
  } else steps.service = 'skipped';
  return steps;
}

/**
 * The VIP gate: this node reaches the registry through the VIP over TLS verified with the CA. A neighbour entry left
 * over from before the VIP existed (precheck's probe makes one) is cleared first, so ARP asks afresh.
 */
export async function waitVipServes(session: HostSession, vip: string, url: string, caPath: string, signal: AbortSignal, timeoutMs = 90_000): Promise<string> {
  await session.exec(sh`ip neigh flush to ${vip} 2>/dev/null || true`, { sudo: true, timeoutMs: 15_000 });
  await waitAnswers(session, url, caPath, signal, timeoutMs);
  return 'serves';
}

/** Whether this node holds the VIP now. */
export async function holdsVip(session: HostSession, vip: string): Promise<boolean> {
  return (await session.exec(sh`ip -o addr | grep -q ${` inet ${vip}/`}`, { sudo: true, timeoutMs: 15_000 })).code === 0;
}
