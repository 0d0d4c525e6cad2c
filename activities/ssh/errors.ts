import { ApplicationFailure } from '@temporalio/common';

/**
 * Failures of the host layer, classified where they arise: what retrying cannot fix (credentials, a changed host
 * key, missing permissions, bad input) is non-retryable; what time may fix (connection loss, timeouts) is retryable.
 * Messages name the host and never carry a secret.
 */
export const NON_RETRYABLE = {
  SshAuthFailed: 'SshAuthFailed',
  HostKeyMismatch: 'HostKeyMismatch',
  PermissionDenied: 'PermissionDenied',
  InvalidInput: 'InvalidInput',
  /** A remote command ran and exited non-zero for a reason a retry does not change (bad config, a refused value). */
  CommandFailed: 'CommandFailed',
} as const;

export const RETRYABLE = {
  SshUnreachable: 'SshUnreachable',
  SshConnectionLost: 'SshConnectionLost',
  SshTimeout: 'SshTimeout',
  UploadCorrupt: 'UploadCorrupt',
  /** Something is still coming up (a daemon starting, a VIP not yet elected): waiting may fix it. */
  NotReady: 'NotReady',
} as const;

export type FailureType = keyof typeof NON_RETRYABLE | keyof typeof RETRYABLE;

export function hostFailure(type: FailureType, message: string, details?: unknown): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: type in NON_RETRYABLE, details: details === undefined ? undefined : [details] });
}

export function isHostFailure(err: unknown, type?: FailureType): err is ApplicationFailure {
  return err instanceof ApplicationFailure && (type === undefined ? Boolean(err.type) : err.type === type);
}

/** Maps an ssh2 / socket error on connect to a classified failure. */
export function classifyConnectError(err: Error & { level?: string; code?: string }, where: string): ApplicationFailure {
  if (isHostFailure(err)) return err;
  if (err.level === 'client-authentication') return hostFailure('SshAuthFailed', `${where}: authentication failed (wrong user, password or key)`);
  if (err.level === 'client-timeout' || /timed out/i.test(err.message)) return hostFailure('SshTimeout', `${where}: timed out during SSH handshake`);
  if (err.code && ['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN'].includes(err.code)) {
    return hostFailure('SshUnreachable', `${where}: cannot connect (${err.code})`);
  }
  if (/privateKey|passphrase|Cannot parse/i.test(err.message)) return hostFailure('InvalidInput', `${where}: ${err.message}`);
  return hostFailure('SshConnectionLost', `${where}: ${err.message}`);
}
