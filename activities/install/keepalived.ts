import { composeUnit, KEEPALIVED_CHECK_MODE, KEEPALIVED_DIR, KEEPALIVED_FILES, keepalivedCheckScript, keepalivedCompose, keepalivedConf, type KeepalivedSettings } from '../../registry/render';
import { command, raw, sh } from '../ssh/quote';
import type { HostSession } from '../ssh/session';
import { asRoot, clearPending, ensureImage, markPending, mustRun, putFile, restartPending, waitAnswers } from './remote';

export const KEEPALIVED_UNIT = 'kk-keepalived.service';
const SERVICE = 'kk-keepalived';

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
  if (image.changed) await markPending(session, SERVICE);
  const changed = [
    await putFile(session, `${dir}/${KEEPALIVED_FILES.conf}`, keepalivedConf(settings), 0o600, SERVICE),
    await putFile(session, `${dir}/${KEEPALIVED_FILES.ca}`, caCert, 0o644, SERVICE),
    // Root-owned and 0700: keepalived's enable_script_security refuses a check script others could change.
    await putFile(session, `${dir}/${KEEPALIVED_FILES.check}`, keepalivedCheckScript(settings), KEEPALIVED_CHECK_MODE, SERVICE),
    await putFile(session, `${dir}/${KEEPALIVED_FILES.compose}`, keepalivedCompose(settings, dir), 0o644, SERVICE),
  ].some(Boolean);
  const unitChanged = await putFile(session, `/etc/systemd/system/${KEEPALIVED_UNIT}`, composeUnit('keepalived for the registry VIP (installed by kk)', SERVICE, `${dir}/docker-compose.yml`), 0o644, SERVICE);
  const active = (await asRoot(session, command('systemctl', 'is-active', KEEPALIVED_UNIT), { timeoutMs: 30_000 })).stdout.trim() === 'active';
  steps.config = changed || unitChanged ? 'updated' : 'skipped';
  if ((await restartPending(session, SERVICE)) || !active) {
    await mustRun(session, 'systemctl daemon-reload', 'systemctl daemon-reload');
    await mustRun(session, `systemctl enable ${KEEPALIVED_UNIT} && systemctl restart ${KEEPALIVED_UNIT}`, 'starting keepalived', { timeoutMs: 120_000, signal });
    await clearPending(session, SERVICE);
    steps.service = active ? 'restarted' : 'started';
  } else steps.service = 'skipped';
  // One version's files only: the group is read back from them (leavers), so an old version's config must not linger.
  await mustRun(session, sh`find ${KEEPALIVED_DIR} -mindepth 1 -maxdepth 1 ! -name ${settings.version} -exec rm -rf {} +`, 'removing older keepalived versions');
  return steps;
}

/**
 * The VIP gate: this node reaches the registry through the VIP over TLS verified with the CA. A neighbour entry left
 * over from before the VIP existed (precheck's probe makes one) is cleared first, so ARP asks afresh.
 */
export async function waitVipServes(session: HostSession, vip: string, url: string, caPath: string, signal: AbortSignal, timeoutMs = 90_000): Promise<string> {
  await asRoot(session, sh`ip neigh flush to ${vip} 2>/dev/null || true`, { timeoutMs: 15_000 });
  await waitAnswers(session, url, caPath, signal, timeoutMs);
  return 'serves';
}

/** A shell test that succeeds when this host holds `vip` (IPv4 `inet` or IPv6 `inet6`; a longer address with it as prefix does not count). */
export function vipHeldTest(vip: string): string {
  return sh`ip -o addr 2>/dev/null | grep -qF -e ${` inet ${vip}/`} -e ${` inet6 ${vip}/`}`;
}

/** Whether this node holds the VIP now. */
export async function holdsVip(session: HostSession, vip: string): Promise<boolean> {
  return (await asRoot(session, vipHeldTest(vip), { timeoutMs: 15_000 })).code === 0;
}

/** Addresses in the keepalived.conf kk deployed here (unicast_src_ip and unicast_peer entries), any version. */
export async function readKeepalivedMembers(session: HostSession): Promise<string[]> {
  const r = await asRoot(session, sh`cat ${KEEPALIVED_DIR}/*/keepalived.conf 2>/dev/null || true`, { timeoutMs: 30_000 });
  return parseKeepalivedMembers(r.stdout);
}

export function parseKeepalivedMembers(conf: string): string[] {
  const out = new Set<string>();
  const src = /unicast_src_ip\s+(\S+)/.exec(conf)?.[1];
  if (src) out.add(src);
  const peers = /unicast_peer\s*\{([^}]*)\}/.exec(conf)?.[1] ?? '';
  for (const p of peers.split(/\s+/).filter(Boolean)) out.add(p);
  return [...out];
}

/** Stops and removes kk's keepalived (unit, compose project, files); nothing else on the host is touched. */
export async function removeKeepalived(session: HostSession): Promise<string> {
  const present = (await asRoot(session, sh`test -e ${`/etc/systemd/system/${KEEPALIVED_UNIT}`} || test -d ${KEEPALIVED_DIR}`, { timeoutMs: 30_000 })).code === 0;
  if (!present) return 'absent';
  // keepalived drops the VIP when it stops cleanly; one killed instead leaves it on the interface, so it goes too.
  const conf = (await asRoot(session, sh`cat ${KEEPALIVED_DIR}/*/keepalived.conf 2>/dev/null || true`, { timeoutMs: 30_000 })).stdout;
  const vip = /virtual_ipaddress\s*\{\s*(\S+\/\d+)\s+dev\s+(\S+)/.exec(conf);
  const dropVip = vip ? sh`ip addr del ${vip[1]!} dev ${vip[2]!} 2>/dev/null; ` : '';
  await mustRun(
    session,
    // A unit stopped while its compose project goes down may stay `failed` in systemd's memory (the host reads as
    // degraded): reset-failed forgets it.
    sh`systemctl disable --now ${KEEPALIVED_UNIT} 2>/dev/null; docker rm -f kk-keepalived >/dev/null 2>&1; ${raw(dropVip)}rm -f ${`/etc/systemd/system/${KEEPALIVED_UNIT}`} && rm -rf ${KEEPALIVED_DIR} && systemctl daemon-reload && (systemctl reset-failed ${KEEPALIVED_UNIT} 2>/dev/null; true)`,
    'removing keepalived',
    { timeoutMs: 120_000 },
  );
  return 'removed';
}
