import { ActivityFailure, ApplicationFailure, ChildWorkflowFailure, isCancellation, TemporalFailure } from '@temporalio/workflow';

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

/**
 * `kk cancel`: children are cancelled with their run. A run that collects its children with allSettled must end
 * cancelled too, not as a report of failed hosts.
 */
export function rethrowCancellation(settled: PromiseSettledResult<unknown>[]): void {
  const cancelled = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected' && isCancellation(s.reason));
  if (cancelled) throw cancelled.reason;
}
