import type { DataConverter } from '@temporalio/common';
import { AesGcmCodec } from './codec';
import { workflowBuildId } from './build-id';

/** One data converter for client and worker alike: encrypted payloads and encrypted failure messages. */
export function kkDataConverter(key: Buffer): DataConverter {
  return { payloadCodecs: [new AesGcmCodec(key)], failureConverterPath: require.resolve('./failure-converter') };
}

export const TASK_QUEUE = process.env.KK_TASK_QUEUE ?? 'kk-registry';

/** On a cluster, workers of one build share a queue: a worker of another build never takes a run it cannot replay. */
export function clusterTaskQueue(): string {
  return `${TASK_QUEUE}@${workflowBuildId()}`;
}
