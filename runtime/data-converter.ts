import type { DataConverter } from '@temporalio/common';
import { AesGcmCodec } from './codec';

/** One data converter for client and worker alike: encrypted payloads and encrypted failure messages. */
export function kkDataConverter(key: Buffer): DataConverter {
  return { payloadCodecs: [new AesGcmCodec(key)], failureConverterPath: require.resolve('./failure-converter') };
}

export const TASK_QUEUE = process.env.KK_TASK_QUEUE ?? 'kk-registry';
