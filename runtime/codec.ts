import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { readOrCreateSecret } from '../config/secrets';

const ENCODING = 'binary/encrypted';
const KEY_ID = 'encryption-key-id';

/** Thrown for a payload this process will not read; its message names why, never the payload. */
export class PayloadRefused extends Error {
  override name = 'PayloadRefused';
}

/**
 * Encrypts every payload (workflow and activity inputs and results, heartbeats, memo, failure messages) with
 * AES-256-GCM, so inventory passwords and keys never reach the server's history in clear.
 *
 * Decoding refuses every payload that is not encrypted with this key: GCM's tag proves the sender held the key, so a
 * workflow started by anyone else on the task queue (the embedded server listens without auth) cannot hand a worker
 * hosts or file contents. What Temporal itself writes unencrypted never reaches this codec: search attributes and
 * headers are not payload-codec'd, and server-made failures (timeouts, termination) carry their message in clear
 * without encoded attributes.
 */
export class AesGcmCodec implements PayloadCodec {
  readonly keyId: string;

  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error('the payload key must be 32 bytes');
    this.keyId = createHash('sha256').update(key).digest('hex').slice(0, 16);
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', this.key, iv);
      const plain = temporal.api.common.v1.Payload.encode(payload).finish();
      const data = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return { metadata: { encoding: Buffer.from(ENCODING), [KEY_ID]: Buffer.from(this.keyId) }, data };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const encoding = Buffer.from(payload.metadata?.encoding ?? []).toString();
      if (encoding !== ENCODING) {
        throw new PayloadRefused(`refused a payload that is not encrypted with kk's key (encoding ${JSON.stringify(encoding.slice(0, 40))}): only a kk holding the same key (KK_CODEC_KEY, or <workdir>/secrets/payload-codec.key) may start or feed kk's workflows`);
      }
      const keyId = Buffer.from(payload.metadata?.[KEY_ID] ?? []).toString();
      if (keyId !== this.keyId) throw new PayloadRefused(`payload was encrypted with key ${keyId.slice(0, 16)}, this process has ${this.keyId} (set KK_CODEC_KEY to the same key everywhere)`);
      const data = Buffer.from(payload.data ?? []);
      if (data.length < 12 + 16) throw new PayloadRefused('refused an encrypted payload too short to hold its nonce and tag');
      try {
        const decipher = createDecipheriv('aes-256-gcm', this.key, data.subarray(0, 12));
        decipher.setAuthTag(data.subarray(data.length - 16));
        const plain = Buffer.concat([decipher.update(data.subarray(12, data.length - 16)), decipher.final()]);
        return temporal.api.common.v1.Payload.decode(plain) as Payload;
      } catch {
        // A key id can be copied; only the tag proves the sender had the key.
        throw new PayloadRefused('refused an encrypted payload whose authentication tag does not verify with this key');
      }
    });
  }
}

/** KK_CODEC_KEY (base64 of 32 bytes, the same for every worker and client), else a key kept 0600 in the work dir. */
export function loadCodecKey(workdir: string): Buffer {
  const fromEnv = process.env.KK_CODEC_KEY;
  if (fromEnv) {
    const key = Buffer.from(fromEnv, 'base64');
    if (key.length !== 32) throw new Error('KK_CODEC_KEY must be the base64 of 32 bytes (e.g. `openssl rand -base64 32`)');
    return key;
  }
  return Buffer.from(readOrCreateSecret(workdir, 'payload-codec.key', () => randomBytes(32).toString('base64')).value, 'base64');
}
