/**
 * What a person does about a failure, by its type: one wording for precheck's table, a parked host in `kk status`,
 * and the UI. Keyed by the failure types of activities/ssh/errors.ts (and a few of the install's own).
 */
export function fixFor(type: string, host: string): string {
  const fixes: Record<string, string> = {
    SshAuthFailed: `check spec.hosts.${host}.connector user, password or private_key, then kk resume -i <inventory>`,
    HostKeyMismatch: 'if the host was reinstalled, remove its old key as the message says, then kk resume',
    PermissionDenied: `give the user sudo rights, or log in as root (spec.hosts.${host}.connector.user), then kk resume -i <inventory>`,
    SshUnreachable: `check that ${host} is up and that its SSH port is reachable from here, then kk resume`,
    SshTimeout: `check that ${host} is up and that its SSH port is reachable from here, then kk resume`,
    SshConnectionLost: `check that ${host} is up and its network stable, then kk resume`,
    CommandFailed: 'fix what the message names on the host (or in the configuration), then kk resume',
    NotReady: `check what the message names on ${host} (a service that does not come up), then kk resume`,
    InvalidInput: 'correct the configuration the message names, then kk resume -i/-c/--set with it',
    LocalFileMissing: 'put the file where the message says (every worker reads binary_dir at the same path), then kk resume',
    UploadCorrupt: `check the disk and network of ${host}, then kk resume`,
  };
  return fixes[type] ?? 'fix the cause the message names, then kk resume';
}
