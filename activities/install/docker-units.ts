import { KK_UNIT_MARKER } from '../../registry/markers';

/**
 * Docker from the static tarball, the way an installer puts it on a host: binaries in /usr/local/bin, a systemd unit
 * each for containerd and docker, and daemon.json. Shared by the installer and the lab's artifact self-test.
 */
export const DOCKER_BINARIES = ['dockerd', 'docker', 'docker-proxy', 'docker-init', 'containerd', 'containerd-shim-runc-v2', 'ctr', 'runc'];

export const CONTAINERD_UNIT = `${KK_UNIT_MARKER}
[Unit]
Description=containerd container runtime
After=network.target local-fs.target

[Service]
ExecStartPre=-/sbin/modprobe overlay
ExecStart=/usr/local/bin/containerd
Type=notify
Delegate=yes
KillMode=process
Restart=always
RestartSec=5
LimitNPROC=infinity
LimitCORE=infinity
LimitNOFILE=infinity
TasksMax=infinity
OOMScoreAdjust=-999

[Install]
WantedBy=multi-user.target
`;

export const DOCKER_UNIT = `${KK_UNIT_MARKER}
[Unit]
Description=Docker Application Container Engine
After=network-online.target containerd.service
Wants=network-online.target
Requires=containerd.service

[Service]
Type=notify
ExecStart=/usr/local/bin/dockerd --containerd=/run/containerd/containerd.sock
ExecReload=/bin/kill -s HUP $MAINPID
TimeoutStartSec=0
RestartSec=2
Restart=always
LimitNOFILE=infinity
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity
Delegate=yes
KillMode=process
OOMScoreAdjust=-500

[Install]
WantedBy=multi-user.target
`;

/** KubeKey's daemon.json defaults (log rotation, systemd cgroups, live restore). */
export const DAEMON_DEFAULTS: Record<string, unknown> = {
  'data-root': '/var/lib/docker',
  'exec-opts': ['native.cgroupdriver=systemd'],
  'log-opts': { 'max-size': '5m', 'max-file': '3' },
  'live-restore': true,
};

/**
 * daemon.json merged, never replaced: what is there stays as it is (data-root, mirrors, a cgroup driver someone
 * chose), kk's defaults fill only keys that are absent (`defaults`: none for a Docker kk did not install), and the
 * registries kk needs are added to `insecure-registries`. The same input always gives the same text, so a re-run
 * changes nothing.
 */
export function mergeDaemonJson(existing: Record<string, unknown> | undefined, options: { defaults?: Record<string, unknown>; insecureRegistries?: string[] } = {}): string {
  const merged: Record<string, unknown> = { ...(options.defaults ?? {}), ...(existing ?? {}) };
  const insecure = new Set([...((merged['insecure-registries'] as string[] | undefined) ?? []), ...(options.insecureRegistries ?? [])]);
  if (insecure.size) merged['insecure-registries'] = [...insecure];
  return `${JSON.stringify(merged, null, 2)}\n`;
}
