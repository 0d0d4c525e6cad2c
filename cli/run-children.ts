import type { Client, WorkflowExecutionDescription } from '@temporalio/client';

/** A run as its children are looked up: its workflow id and when it started (which never changes while it lives). */
export interface RunRef {
  id: string;
  started: Date;
}

/** A run's reference, from one description of it (for commands that look once; followers have their description). */
export async function runRef(client: Client, id: string): Promise<RunRef> {
  return { id, started: (await client.workflow.getHandle(id).describe()).startTime };
}

/**
 * Describes the child workflows of a run (`<run>/node/<host>`, `<run>/precheck/node/<host>`). Every run of an
 * inventory reuses the same ids, so an execution that started before the run is an earlier run's: for this run,
 * that child has not started yet (undefined), like one the server does not know.
 */
export function runChildren(client: Client, run: RunRef): (id: string) => Promise<WorkflowExecutionDescription | undefined> {
  return async (id) => {
    try {
      const d = await client.workflow.getHandle(id).describe();
      return d.startTime < run.started ? undefined : d;
    } catch (err) {
      if ((err as Error).name === 'WorkflowNotFoundError') return undefined;
      throw err;
    }
  };
}
