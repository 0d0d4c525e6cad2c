import type { PushImagesReport } from '../registry/images/types';
import { bytesText, table } from './format';

/** A push's summary: one row per image (blobs sent, skipped, mounted; bytes sent), then the totals. */
export function pushImagesSummary(report: PushImagesReport, output: 'text' | 'json'): number {
  if (output === 'json') {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return 0;
  }
  for (const [host, done] of Object.entries(report.projects ?? {})) process.stdout.write(`Harbor projects on ${host}: ${done.join(', ')}\n`);
  const rows = report.images.map((i) => [
    i.target,
    `${i.blobs.sent}/${i.blobs.total}`,
    String(i.blobs.skipped),
    String(i.blobs.mounted),
    `${bytesText(i.bytes.sent)} of ${bytesText(i.bytes.total)}`,
    i.resumed?.length ? `resumed at ${i.resumed.map((r) => bytesText(r.offset)).join(', ')}` : i.manifests.sent ? '' : 'up to date',
  ]);
  process.stdout.write(table(['IMAGE', 'BLOBS SENT', 'PRESENT', 'MOUNTED', 'BYTES SENT', 'NOTE'], rows));
  const sent = report.images.reduce((n, i) => n + i.bytes.sent, 0);
  const replicated = report.replicatedTo ? `; replicated to ${report.replicatedTo.join(', ')}` : '';
  process.stdout.write(`pushed ${report.images.length} images to ${report.endpoint}, ${bytesText(sent)} sent${replicated}\n`);
  return 0;
}
