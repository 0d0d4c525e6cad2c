import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { LabFile } from '../../lab/lab-file';
import type { LabTemporal } from '../../lab/temporal/cluster';
import { LAB_JSON } from '../../lab/paths';
import { connectClient } from '../../runtime/temporal';
import { spawnKk, waitFor } from './kk';
import { lab } from './lab';

/**
 * The lab's real Temporal cluster (PostgreSQL, the server, its UI and kk's codec endpoint for it:
 * `npm run lab -- up --temporal`), and kk pointed at it as a user points kk at a cluster.
 */
export async function labWithTemporal(nodes = 3): Promise<LabFile & { temporal: LabTemporal }> {
  const asIs = process.env.KK_LAB_AS_IS === '1' && fs.existsSync(LAB_JSON) && (JSON.parse(fs.readFileSync(LAB_JSON, 'utf8')) as LabFile).temporal;
  if (!asIs) {
    const r = await lab(['up', '--nodes', String(nodes), '--temporal']);
    if (r.code !== 0) throw new Error(`lab up --temporal failed: ${r.stderr}`);
  }
  const labFile = JSON.parse(fs.readFileSync(LAB_JSON, 'utf8')) as LabFile;
  if (!labFile.temporal) throw new Error('lab.json has no temporal cluster');
  return labFile as LabFile & { temporal: LabTemporal };
}

/** What a user sets to run kk against the cluster: its address and namespace, its UI, and the shared codec key. */
export function clusterEnv(t: LabTemporal): NodeJS.ProcessEnv {
  return {
    TEMPORAL_ADDRESS: t.address,
    TEMPORAL_NAMESPACE: t.namespace,
    TEMPORAL_UI_URL: t.ui,
    KK_CODEC_KEY: fs.readFileSync(t.codecKeyFile, 'utf8').trim(),
  };
}

export function clusterClient(t: LabTemporal): Promise<Client> {
  return connectClient({ address: t.address, namespace: t.namespace, embedded: false }, Buffer.from(fs.readFileSync(t.codecKeyFile, 'utf8').trim(), 'base64'));
}

export interface RunningWorker {
  child: ChildProcess;
  identity: string;
  stderr(): string;
  exited: Promise<unknown>;
}

/** A `kk worker` process with its own work dir (as on a machine of its own), once it polls. */
export async function startWorker(t: LabTemporal, workdir: string): Promise<RunningWorker> {
  const w = spawnKk(['worker', '--workdir', workdir], clusterEnv(t));
  const identity = await waitFor(
    'kk worker to poll',
    async () => {
      if (w.child.exitCode !== null) throw new Error(`kk worker exited ${w.child.exitCode}: ${w.stderr()}`);
      return /kk worker (\S+) polling/.exec(w.stderr())?.[1];
    },
    90_000,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n${w.stderr()}`);
  });
  return { child: w.child, identity, stderr: w.stderr, exited: w.done };
}

const EventType = temporal.api.enums.v1.EventType;

/**
 * Who ran the activities of a run: the identity on every ActivityTaskStarted event of the run's workflow and of
 * every child workflow under it (followed through their ChildWorkflowExecutionStarted events), counted.
 */
export async function activityWorkers(client: Client, workflowId: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const seen = new Set<string>();
  const visit = async (id: string): Promise<void> => {
    if (seen.has(id)) return;
    seen.add(id);
    const history = await client.workflow.getHandle(id).fetchHistory();
    for (const e of history.events ?? []) {
      if (e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED) {
        const who = e.activityTaskStartedEventAttributes?.identity ?? '?';
        counts.set(who, (counts.get(who) ?? 0) + 1);
      } else if (e.eventType === EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED) {
        const child = e.childWorkflowExecutionStartedEventAttributes?.workflowExecution?.workflowId;
        if (child) await visit(child);
      }
    }
  };
  await visit(workflowId);
  return counts;
}

/** The UI server's own HTTP API (what its run list calls), filtered by a visibility query. */
export async function uiListWorkflows(t: LabTemporal, query: string): Promise<{ workflowId: string; status: string }[]> {
  const url = `${t.ui}/api/v1/namespaces/${encodeURIComponent(t.namespace)}/workflows?query=${encodeURIComponent(query)}`;
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { executions?: { execution?: { workflowId?: string }; status?: string }[] };
  return (body.executions ?? []).map((e) => ({ workflowId: e.execution?.workflowId ?? '', status: e.status ?? '' }));
}
