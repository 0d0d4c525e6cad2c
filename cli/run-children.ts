import type { Client, WorkflowExecutionDescription } from '@temporalio/client';

/**
 * Describes the child workflows of a run (`<run>/node/<host>`, `<run>/precheck/node/<host>`). Every run of an
 * inventory reuses the same ids, so an execution that started before the run is an earlier run's: for this run,
 * that child has not started yet (undefined), like one the server does not know.
 */
export async function runChildren(client: Client, runId: string): Promise<(id: string) => Promise<WorkflowExecutionDescription | undefined>> {
  const runStarted = (await client.workflow.getHandle(runId).describe()).startTime;
  return async (id) => {
    try {
      const d = await client.workflow.getHandle(id).describe();
      return d.startTime < runStarted ? undefined : d;
    } catch (err) {
      if ((err as Error).name === 'WorkflowNotFoundError') return undefined;
      throw err;
    }
  };
}
