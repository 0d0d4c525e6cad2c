import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { HostTarget } from '../config/hosts';
import type { RegistryNodeInput } from '../registry/types';

/** What a parked host waits for: the same step again (the cause was fixed on the host), with corrected data, or an end. */
export interface HostFix {
  /** Corrected connection data (a new password, key or address) from the re-read inventory. */
  host?: HostTarget;
  /** A corrected node input (e.g. an artifact path) from the re-read configuration. */
  node?: RegistryNodeInput;
  /** End this host's work here (`kk resume --abort`). */
  abort?: boolean;
}

/** Why a host's workflow waits for a person, in the words precheck uses for the same cause. */
export interface ParkedHost {
  host: string;
  step: string;
  type: string;
  message: string;
  fix: string;
  /** ISO time the step parked. */
  since: string;
}

/** Sent by `kk resume` (and a re-run of the same command) to a parked host's workflow; refused when nothing is parked. */
export const fixHostUpdate = defineUpdate<string, [HostFix]>('fixHost');

/** The parked step of a host's workflow, if any (also in its memo, `parked`, for `kk status` with no worker). */
export const parkedQuery = defineQuery<ParkedHost | undefined>('parked');
