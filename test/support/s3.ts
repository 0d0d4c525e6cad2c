import { createHash, createHmac } from 'node:crypto';

export interface S3Target {
  endpoint: string;
  bucket: string;
  region: string;
  accesskey: string;
  secretkey: string;
}

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();

/** One S3 request, path-style, signed with AWS Signature V4: enough to put and get objects in tests. */
export async function s3Request(s3: S3Target, method: 'PUT' | 'GET', key: string, body?: Buffer): Promise<Response> {
  const url = new URL(`${s3.endpoint}/${s3.bucket}/${key}`);
  const amzDate = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const day = amzDate.slice(0, 8);
  const payloadHash = sha256(body ?? '');
  const headers: Record<string, string> = { host: url.host, 'x-amz-content-sha256': payloadHash, 'x-amz-date': amzDate };
  const signed = Object.keys(headers).sort();
  const canonical = [method, url.pathname, '', ...signed.map((h) => `${h}:${headers[h]}`), '', signed.join(';'), payloadHash].join('\n');
  const scope = `${day}/${s3.region}/s3/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  const key4 = ['aws4_request'].reduce((k, part) => hmac(k, part), hmac(hmac(hmac(`AWS4${s3.secretkey}`, day), s3.region), 's3'));
  const signature = createHmac('sha256', key4).update(toSign).digest('hex');
  const { host: _host, ...sent } = headers;
  return fetch(url, {
    method,
    body,
    headers: { ...sent, authorization: `AWS4-HMAC-SHA256 Credential=${s3.accesskey}/${scope}, SignedHeaders=${signed.join(';')}, Signature=${signature}` },
  });
}
