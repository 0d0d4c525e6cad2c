import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';

/**
 * Activity options by kind of step. Each step heartbeats, so a dead worker or a hung host is noticed within the
 * heartbeat timeout and the step moves to another worker. Non-retryable failures (credentials, host keys,
 * permissions, bad input) stop at once; transient ones are retried with backoff.
 */
export const probe = proxyActivities<Activities>({
  startToCloseTimeout: '3 minutes',
  heartbeatTimeout: '15 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '20 seconds', maximumAttempts: 5 },
});
