import { ActivityFailure, ApplicationFailure, ChildWorkflowFailure, TemporalFailure } from '@temporalio/workflow';

/** The innermost classified failure of a chain (child -> activity -> application), for per-host reports. */
export function rootCause(err: unknown): { type: string; message: string } {
  let current: unknown = err;
  while (current instanceof ChildWorkflowFailure || current instanceof ActivityFailure) {
    if (!current.cause) break;
    current = current.cause;
  }
  if (current instanceof ApplicationFailure) return { type: current.type ?? 'Error', message: current.message };
  if (current instanceof TemporalFailure) return { type: current.name, message: current.message };
  return { type: 'Error', message: current instanceof Error ? current.message : String(current) };
}
