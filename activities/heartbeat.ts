import { Context } from '@temporalio/activity';

/**
 * Heartbeats while a long step runs, so a dead worker or a hung host is noticed within the heartbeat timeout
 * and the step is retried elsewhere; the activity's AbortSignal reaches the host layer through `signal`.
 */
export async function withHeartbeat<T>(fn: (signal: AbortSignal) => Promise<T>, details?: () => unknown, everyMs = 2000): Promise<T> {
  const ctx = Context.current();
  const timer = setInterval(() => ctx.heartbeat(details?.()), everyMs);
  ctx.heartbeat(details?.());
  try {
    return await fn(ctx.cancellationSignal);
  } finally {
    clearInterval(timer);
  }
}
